import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# Both store backends (SQLite and a real PostgreSQL) for every store test.
pytest_plugins = ["store_backends"]


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden from the current templates")
