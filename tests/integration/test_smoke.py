import pytest

pytestmark = pytest.mark.integration


def test_local_to_staging_through_docker_standin(cluster):
    cluster.sql(
        "local", "INSERT INTO prompts (name, prompt_type, body) VALUES ('a', 'system', 'x')"
    )
    result = cluster.run("sync", "local", "staging", "--force")
    assert result.returncode == 0, result.stderr
    assert cluster.rows("staging") == cluster.rows("local")
