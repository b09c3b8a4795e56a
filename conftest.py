# Makes the top-level model files importable in tests from a source checkout without installing it.
import pytest

from tests.helpers import SHARED_DATA


def pytest_configure(config):
    # Nearly every test reads the shared Re-DocRED / DocRED / CDR files, which the project never copies: say where
    # they were looked for once, instead of letting dozens of tests fail on a missing file.
    if not (SHARED_DATA / "redocred" / "test_revised.json").is_file():
        pytest.exit(
            f"the shared data was not found at {SHARED_DATA}: clone the project beside it (../shared/data) or "
            "set GLOBALRE_DATA_DIR to the folder that holds redocred/, docred/ and cdr/",
            returncode=4,
        )
