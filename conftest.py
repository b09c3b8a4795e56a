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


def _register_the_projects_pipeline() -> None:
    """Points "relation-extraction" at the project's own pipeline class. Loading a saved model as remote code in
    this process registers that folder's copy of the class, process-wide; a test that builds
    `pipeline("relation-extraction", model=model)` from objects in memory must get the project's class (and its
    `DocumentError`), whatever ran before."""
    from transformers.pipelines import PIPELINE_REGISTRY

    import pipeline_globalre

    entry = PIPELINE_REGISTRY.supported_tasks.get(pipeline_globalre.PIPELINE_TASK)
    if entry is not None:
        PIPELINE_REGISTRY.supported_tasks[pipeline_globalre.PIPELINE_TASK] = {
            **entry,
            "impl": pipeline_globalre.RelationExtractionPipeline,
        }


@pytest.fixture(scope="module", autouse=True)
def _projects_pipeline_for_each_module():
    # module scope: before the module's own module-scoped fixtures build their pipelines
    _register_the_projects_pipeline()


@pytest.fixture(autouse=True)
def _projects_pipeline_after_each_test():
    yield
    _register_the_projects_pipeline()
