"""Checks that need no engine: the compose file as compose itself reads it (clean, hardened,
overridable). hadolint checks both Dockerfiles in the lint stage (scripts/stages/lint.sh)."""

from __future__ import annotations

import json

from conftest import REPO, compose


def config_json(settings: dict[str, str] | None = None, files=("compose.yaml",)) -> dict:
    return json.loads(compose("config", "--format", "json", files=files, settings=settings).stdout)


def test_compose_config_is_clean():
    proc = compose("config", "--quiet")
    assert proc.stdout == "" and proc.stderr == "", proc.stdout + proc.stderr


def test_compose_services_are_hardened():
    services = config_json()["services"]
    assert set(services) == {"back", "front"}
    for name, service in services.items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("healthcheck"), name
        for port in service["ports"]:
            assert port["host_ip"] == "127.0.0.1", (name, port)
    assert [p["target"] for p in services["back"]["ports"]] == [5000]
    assert [p["target"] for p in services["front"]["ports"]] == [8080]
    assert any(t.startswith("/tmp") for t in services["front"]["tmpfs"])
    assert services["front"]["depends_on"]["back"]["condition"] == "service_healthy"


def test_student_data_lives_in_a_named_volume():
    config = config_json()
    mounts = [m for m in config["services"]["back"]["volumes"] if m["target"] == "/data"]
    assert len(mounts) == 1 and mounts[0]["type"] == "volume", mounts
    assert mounts[0]["source"] in config["volumes"]


def test_defaults_match_the_architecture():
    services = config_json()["services"]
    back, front = services["back"]["environment"], services["front"]["environment"]
    assert (back["API_USERNAME"], back["API_PASSWORD"]) == ("root", "root")
    assert front["BACK_URL"] == "http://back:5000"
    assert front["STORY_URL"] == "/racontemoiunehistoire"
    assert back["STUDENTS_API_PREFIX"] == front["STUDENTS_API_PREFIX"] == "/supmit/api/v1.0"
    assert services["back"]["image"] == "racontemoi-back:local"
    assert services["front"]["image"] == "racontemoi-front:local"
    assert [p["published"] for p in services["front"]["ports"]] == ["8080"]


def test_settings_are_overridable_from_the_environment():
    services = config_json(settings={
        "API_USERNAME": "alice", "API_PASSWORD": "s3cret", "STORY_URL": "https://stories.example/x",
        "BACK_URL": "http://other-back:5000", "FRONT_PORT": "18080", "PUBLISH_ADDRESS": "0.0.0.0",
    })["services"]
    back, front = services["back"], services["front"]
    assert (back["environment"]["API_USERNAME"], back["environment"]["API_PASSWORD"]) == ("alice", "s3cret")
    assert front["environment"]["STORY_URL"] == "https://stories.example/x"
    assert front["environment"]["BACK_URL"] == "http://other-back:5000"
    assert front["ports"][0]["published"] == "18080" and front["ports"][0]["host_ip"] == "0.0.0.0"


def test_env_example_is_a_working_env_file():
    proc = compose("config", "--quiet", env_file=".env.example")
    assert proc.stderr == "", proc.stderr


def test_stories_file_override_mounts_the_file():
    back = config_json(files=("compose.yaml", "tests/containers/compose.stories.yaml"))["services"]["back"]
    target = back["environment"]["STORIES_FILE"]
    mount = next(m for m in back["volumes"] if m["target"] == target)
    assert mount["type"] == "bind" and mount.get("read_only") is True
    assert (REPO / "tests/containers/stories.txt").samefile(mount["source"])
