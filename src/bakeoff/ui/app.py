"""The script ``bakeoff ui [CONFIG]`` gives ``streamlit run``; the app itself is ``bakeoff.ui.page``.

Streamlit installs the script it runs as ``__main__``, and every process the local runner starts
from the app (one per model, forked by the forkserver) re-runs ``__main__``'s file as
``__mp_main__``, as multiprocessing does. So this file imports nothing unless it is the script:
importing the app there (Streamlit with it) cost each model process 0.35 s.
"""

if __name__ == "__main__":
    from bakeoff.ui.page import main

    main()
