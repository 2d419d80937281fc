"""The ``--backend ray`` flags: what they turn into, and the errors for flags that do not apply.

Running the CLI on real replicas is tested in test_ray_faults.py (a driver killed mid-run).
"""

from __future__ import annotations

import argparse

import pytest

from personacal.backends import add_backend_arguments, backend_from_args
from personacal.backends._ray_cli import ray_options
from personacal.errors import InputError


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    return parser.parse_args(["--model", "m", *flags])


def test_ray_flags_become_ray_backend_arguments():
    args = parse("--backend", "ray", "--replicas", "4", "--resources-per-replica", '{"GPU": 1, "CPU": 8}',
                 "--address", "ray://head:10001", "--replica-set", "llama")
    assert ray_options(args) == {"replicas": 4, "resources_per_replica": {"GPU": 1, "CPU": 8},
                                 "address": "ray://head:10001", "replica_set": "llama"}
    assert ray_options(parse("--backend", "ray")) == {}


def test_ray_flags_with_another_backend_are_an_error():
    args = parse("--backend", "vllm", "--replicas", "2", "--address", "auto")
    with pytest.raises(InputError, match=r"--replicas, --address apply to --backend ray only; got --backend vllm"):
        backend_from_args(args)


def test_resources_must_be_json():
    args = parse("--backend", "ray", "--resources-per-replica", "{GPU: 1}")
    with pytest.raises(InputError, match=r"`--resources-per-replica` must be JSON such as '\{\"GPU\": 1\}'; "
                                         r"got '\{GPU: 1\}'"):
        ray_options(args)
