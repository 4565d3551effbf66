"""The fault campaign (`make faults`): each case in turn against a gateway and 3 workers over a
private Redis and PostgreSQL, with steady Telegram, Viber and Instagram traffic; prints a table
and writes JSON.

    python -m tests.faults.run                        # every case, full scale
    python -m tests.faults.run --case worker-stall --duration 30 --customers 5

Exit status 1 when a case lost, doubled or reordered a reply (the target is 0 for each).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from tests.faults.campaign import open_services, open_stack, run_case, run_on
from tests.faults.cases import CASES, FULL, SMALL
from tests.faults.report import CaseResult, table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--case",
        action="append",
        choices=sorted(CASES),
        help="run only this case (repeatable); default: all, in the campaign's order",
    )
    parser.add_argument("--duration", type=float, help="seconds of traffic per case")
    parser.add_argument("--customers", type=int, help="customers per channel")
    parser.add_argument("--small", action="store_true", help="the small scale of `make test`")
    parser.add_argument("--out", type=Path, default=Path("bench-results/faults.json"))
    parser.add_argument(
        "--shared",
        action="store_true",
        help="run the cases one after another on one stack (as `make test` does)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    return parser


async def _campaign(args: argparse.Namespace) -> list[CaseResult]:
    scale = SMALL if args.small else FULL
    if args.duration:
        scale = dataclasses.replace(scale, duration=args.duration)
    if args.customers:
        scale = dataclasses.replace(scale, customers=args.customers)
    workdir = Path(tempfile.mkdtemp(prefix="omnirelay-faults-"))
    logging.getLogger("faults").info("logs under %s", workdir)
    model = workdir / "nlu.model"
    await asyncio.to_thread(_train, model)
    services = await open_services(model)
    names = args.case or list(CASES)
    try:
        if args.shared:
            async with open_stack(scale, services, workdir / "shared", persistent=True) as stack:
                results = [await _timed(run_on(stack, CASES[n], scale)) for n in names]
        else:
            results = [
                await _timed(run_case(CASES[n], scale, services, workdir / n)) for n in names
            ]
    finally:
        await services.postgres.destroy()
        if not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
    _write(args.out, scale, results)
    return results


async def _timed(running: Awaitable[CaseResult]) -> CaseResult:
    began = time.monotonic()
    result = await running
    result.notes["case_wall_s"] = round(time.monotonic() - began, 1)
    print(table([result]).splitlines()[-1], flush=True)
    return result


def _train(path: Path) -> None:
    from nlu import train_model

    train_model(None, path)


def _write(out: Path, scale: object, results: list[CaseResult]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "scale": dataclasses.asdict(scale),  # type: ignore[call-overload]
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "load": _load()},
        "cases": [r.to_json() for r in results],
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _load() -> list[float]:
    import os

    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the fakes' request lines
    results = asyncio.run(_campaign(args))
    print()
    print(table(results))
    print(f"\nwritten to {args.out}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
