"""RunConfig <-> JSON dict for the worker boundary, and the request codec."""

from __future__ import annotations

import json

import pytest

from drillbook.config import IpMode, RunConfig
from drillbook.runtime.workers.request import WorkerRequest, config_from_dict, config_to_dict


def test_config_round_trips_through_json() -> None:
    config = RunConfig(ip_mode=IpMode.IPV4_MAPPED_IPV6, mtu=1520, defines=(("A", "1"),),
                       init_scripts=("x.sh",), tolerance_percent=3.5, is_anyip=True)
    data = json.loads(json.dumps(config_to_dict(config)))
    assert data == config_to_dict(config)
    assert config_from_dict(data) == config


def test_default_config_round_trips_and_empty_dict_is_default() -> None:
    assert config_from_dict(config_to_dict(RunConfig())) == RunConfig()
    assert config_from_dict({}) == RunConfig()


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown RunConfig fields"):
        config_from_dict({"mtu": 1500, "colour": "blue"})


def test_request_json_round_trip() -> None:
    request = WorkerRequest("0 socket(...)\n", "a/b.pkt", "a", config_to_dict(RunConfig()))
    again = WorkerRequest.from_json(request.to_json())
    assert again == request
    assert again.entry == "drillbook.runtime.workers.entry:drive"
    assert again.run_config == RunConfig()


def test_explore_is_a_typed_field_of_the_request_not_a_config_extra() -> None:
    request = WorkerRequest("", "x.pkt", "/", config_to_dict(RunConfig()), explore=True,
                            explore_grace_us=50_000)
    again = WorkerRequest.from_json(request.to_json())
    assert (again.explore, again.explore_grace_us) == (True, 50_000)
    assert again.run_config.extra == ()


def test_the_capture_instance_is_a_typed_field_of_the_request_not_a_config_extra() -> None:
    request = WorkerRequest("", "x.pkt", "/", config_to_dict(RunConfig()),
                            capture_instance="/sys/kernel/tracing/instances/drillbook-1-2")
    again = WorkerRequest.from_json(request.to_json())
    assert again.capture_instance == "/sys/kernel/tracing/instances/drillbook-1-2"
    assert again.run_config.extra == ()
