# Makes the top-level model files importable in tests from a source checkout without installing it.
import pytest

from tests.helpers import HAS_SHARED_DATA, SHARED_DATA


def pytest_report_header(config):
    # Most tests read the committed slice of Re-DocRED; a few need the full files and skip without them.
    if HAS_SHARED_DATA:
        return f"full shared data: {SHARED_DATA}"
    return (
        f"full shared data not found at {SHARED_DATA}: the tests that need it are skipped (put it at "
        "../shared/data beside the checkout or set GLOBALRE_DATA_DIR)"
    )


@pytest.fixture(autouse=True)
def _relation_extraction_pipeline_registration():
    """Loading a saved model as remote code in this process registers that folder's copy of the pipeline class
    for "relation-extraction", process-wide; later tests that build `pipeline("relation-extraction", model=model)`
    from objects in memory must get the project's own class (and its `DocumentError`), whatever ran before."""
    from transformers.pipelines import PIPELINE_REGISTRY

    import pipeline_globalre

    task = pipeline_globalre.PIPELINE_TASK
    saved = PIPELINE_REGISTRY.supported_tasks.get(task)
    saved = dict(saved) if saved is not None else None  # a copy: registering may update the entry in place
    yield
    if saved is not None:
        PIPELINE_REGISTRY.supported_tasks[task] = saved
