# Makes the top-level model files importable in tests from a source checkout without installing it.
from tests.helpers import HAS_SHARED_DATA, SHARED_DATA


def pytest_report_header(config):
    # Most tests read the committed slice of Re-DocRED; a few need the full files and skip without them.
    if HAS_SHARED_DATA:
        return f"full shared data: {SHARED_DATA}"
    return (
        f"full shared data not found at {SHARED_DATA}: the tests that need it are skipped (put it at "
        "../shared/data beside the checkout or set GLOBALRE_DATA_DIR)"
    )
