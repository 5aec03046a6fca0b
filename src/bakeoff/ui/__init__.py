"""The browser app (``bakeoff ui``). Importing this package does not import Streamlit: the CLI
needs only the path of the script that ``streamlit run`` executes."""

from pathlib import Path

APP = Path(__file__).with_name("app.py")
