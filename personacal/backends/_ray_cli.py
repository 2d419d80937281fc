"""The command-line flags of ``--backend ray`` and the RayBackend arguments they stand for."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import InputError

__all__ = ["add_ray_arguments", "ray_options"]


def add_ray_arguments(group) -> None:
    """``--replicas --resources-per-replica --address --replica-set`` (used with ``--backend ray``)."""
    group.add_argument("--replicas", type=int, default=None, help="ray: engine replicas (default 1)")
    group.add_argument(
        "--resources-per-replica", default=None,
        help='ray: Ray resources of one replica as JSON, e.g. \'{"GPU": 1}\' (default: one GPU, or one CPU without GPUs)',
    )
    group.add_argument(
        "--address", default=None,
        help="ray: cluster address (auto, HOST:6379, ray://HOST:10001); default: a private local cluster on 127.0.0.1",
    )
    group.add_argument("--replica-set", default=None,
                       help="ray: name the replicas so that later runs reuse the running engines")


def ray_options(args: argparse.Namespace) -> dict[str, Any]:
    """RayBackend keyword arguments from the flags; Ray flags without ``--backend ray`` are an error."""
    given = {k: getattr(args, k, None) for k in ("replicas", "resources_per_replica", "address", "replica_set")}
    if args.backend != "ray":
        stray = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        if stray:
            raise InputError(f"{', '.join(stray)} apply to --backend ray only; got --backend {args.backend}")
        return {}
    options = {k: v for k, v in given.items() if v is not None}
    if "resources_per_replica" in options:
        try:
            options["resources_per_replica"] = json.loads(options["resources_per_replica"])
        except json.JSONDecodeError as exc:
            raise InputError(
                f"`--resources-per-replica` must be JSON such as '{{\"GPU\": 1}}'; got "
                f"{options['resources_per_replica']!r} ({exc.msg})"
            ) from None
    return options
