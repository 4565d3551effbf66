"""``omnirelay nlu train | test | parse | validate | review``: the bot builder's loop.

``main(argv)`` takes the arguments after ``nlu`` and returns an exit code: 0 success, 1 a data,
model or evaluation problem (reported on stderr, no traceback), 2 bad usage.

The model file and the review list are the service's: ``omnirelay nlu`` passes its settings'
``nlu_model`` and ``nlu_review_log`` in (``main(argv, model=..., review_log=...)``), so the
command reads and writes the files the running service does; ``--model``/``--out``/``--log``
point elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from nlu.errors import DataError, NluError
from nlu.model import DEFAULT_MODEL_PATH, bundled_data_path, bundled_test_path, load_model
from nlu.training_data import TrainingData

Args = argparse.Namespace


def _parser(model: Path, review_log: Path | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omnirelay nlu", description="Train and test the NLU model.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train on Rasa YAML files or folders (default: bundled data)")
    t.add_argument("data", nargs="*", help="NLU files or folders")
    t.add_argument("--out", default=str(model), help="model file to write")
    t.add_argument("--val", nargs="*", help="validation data for the fallback threshold")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.add_argument(
        "--full",
        action="store_true",
        help="retrain from scratch (default: when --out holds a model of the same data plus a "
        "few examples, reuse its tuning and fit the classifier once)",
    )
    t.add_argument(
        "--order-pattern", help="regex for order numbers (groups named num* hold the id)"
    )
    t.add_argument("--phone-region", default="UA", help="default region for local phone numbers")

    e = sub.add_parser("test", help="evaluate a model (or cross-validate) on labelled data")
    e.add_argument("data", nargs="*", help="NLU files or folders (default: bundled test split)")
    e.add_argument("--model", default=str(model))
    e.add_argument("--report", help="write the JSON report here")
    e.add_argument("--plot", help="write the confusion matrix PNG here")
    e.add_argument("--cross-validation", type=int, metavar="K", help="K-fold CV on DATA instead")

    q = sub.add_parser("parse", help="print one parse result as JSON")
    q.add_argument("text", nargs="+")
    q.add_argument("--model", default=str(model))
    q.add_argument("--language", help="hint for messages without letters")
    q.add_argument("--now", help="reference time for relative dates (ISO 8601)")
    q.add_argument("--tz", help="time zone for relative dates, e.g. Europe/Kyiv")

    v = sub.add_parser("validate", help="report data problems with file and line")
    v.add_argument("data", nargs="*", help="NLU files or folders (default: bundled data)")
    v.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")

    r = sub.add_parser("review", help="export the review list as Rasa YAML for annotation")
    r.add_argument("--export", required=True, metavar="FILE.yml")
    r.add_argument(
        "--log",
        default=str(review_log) if review_log is not None else None,
        help="review list (JSONL; default: the service's OMNIRELAY_NLU_REVIEW_LOG)",
    )
    return p


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_all(paths: list[str]) -> TrainingData:
    """The data of ``paths``; broken data: every error on stderr (``file:line: error: ...``),
    then a `DataError` that counts them (exit 1), rather than the first error alone."""
    from nlu.training_data import load_data
    from nlu.validate import counted, error_line

    errors: list[DataError] = []
    data = load_data(paths, errors=errors)
    for e in errors:
        _say(error_line(e))
    if errors:
        raise DataError(f"{counted(len(errors), 'error')} in the data (listed above)")
    return data


def _train(args: Args) -> int:
    from nlu.model import previous_model, train_data
    from nlu.validate import counted

    paths = args.data or [str(bundled_data_path())]
    say = (lambda _m: None) if args.quiet else _say
    say("loading " + ", ".join(paths))
    data = _load_all(paths)
    import re

    from nlu.extractors import DEFAULT_ORDER_PATTERN, ExtractorConfig

    try:
        re.compile(args.order_pattern or "")
    except re.error as e:
        _say(f"error: --order-pattern is not a valid regex: {e}")
        return 2
    rules = ExtractorConfig(
        order_pattern=args.order_pattern or DEFAULT_ORDER_PATTERN, phone_region=args.phone_region
    )
    val = _load_all(args.val) if args.val else None
    previous = None if args.full else previous_model(args.out)
    model = train_data(data, val=val, extractors=rules, progress=say, previous=previous)
    if args.full:
        model.meta["training"]["reason"] = "asked for (--full)"
    model.save(args.out)
    n_intents, digest = len(model.classifier.labels), model.meta["data_hash"][:12]
    kind = model.meta["training"]["kind"]
    say(f"saved {args.out} ({counted(n_intents, 'intent')}, data {digest}, {kind} training)")
    return 0


def _test(args: Args) -> int:
    from nlu.evaluate import cross_validate, evaluate_examples, format_table, plot_confusion

    default = bundled_data_path() if args.cross_validation else bundled_test_path()
    data = _load_all(args.data or [str(default)])
    if args.cross_validation:
        report = cross_validate(data, args.cross_validation, progress=_say)
    else:
        report = evaluate_examples(load_model(args.model), data.examples)
    print(format_table(report))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        _say(f"report written to {args.report}")
    if args.plot:
        plot_confusion(report, args.plot)
        _say(f"confusion matrix written to {args.plot}")
    return 0


def _parse(args: Args) -> int:
    model = load_model(args.model)
    try:
        now = datetime.fromisoformat(args.now) if args.now else None
    except ValueError:
        _say(f"error: --now {args.now!r} is not an ISO 8601 date-time")
        return 2
    result = model.parse_sync(" ".join(args.text), language=args.language, now=now, tz=args.tz)
    out = result.to_dict()
    # INTERFACE.md names: top-level confidence and ranking next to Rasa's nested shape.
    out["confidence"] = out["intent"]["confidence"]
    out["ranking"] = out["intent_ranking"]
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def _validate(args: Args) -> int:
    """Every loading error (stderr) and data warning (stdout) of the files, each with its file
    and line, in one run; exit 1 on an error (or, with --strict, a warning)."""
    from nlu.training_data import load_data
    from nlu.validate import check_data, counted, error_line

    errors: list[DataError] = []
    data = load_data(args.data or [str(bundled_data_path())], errors=errors)
    for e in errors:
        _say(error_line(e))
    warnings = check_data(data)
    for w in warnings:
        print(w)
    print(
        f"{counted(len(data.examples), 'example')}, {counted(len(data.intents), 'intent')}, "
        f"{counted(len(data.entity_types), 'entity type')}, "
        f"{counted(len(errors), 'error')}, {counted(len(warnings), 'warning')}"
    )
    return 1 if errors or (warnings and args.strict) else 0


def _review(args: Args) -> int:
    from nlu.review import ReviewLog, export_yaml
    from nlu.validate import counted

    if args.log is None:
        _say("error: no review list: the service keeps none (OMNIRELAY_NLU_REVIEW_LOG); pass --log")
        return 2
    n = export_yaml(ReviewLog(args.log).items(), args.export)
    _say(f"exported {counted(n, 'example')} from {args.log} to {args.export}")
    return 0


_COMMANDS = {
    "train": _train,
    "test": _test,
    "parse": _parse,
    "validate": _validate,
    "review": _review,
}


def main(
    argv: list[str] | None = None,
    *,
    model: str | Path = DEFAULT_MODEL_PATH,
    review_log: str | Path | None = None,
) -> int:
    """Run one ``nlu`` subcommand; ``argv`` excludes the program name and ``nlu``. ``model``
    and ``review_log`` are the service's files (its settings), the defaults of the options."""
    log = Path(review_log) if review_log is not None else None
    try:
        args = _parser(Path(model), log).parse_args(argv)
    except SystemExit as e:  # argparse exits on --help and on usage errors
        return int(e.code) if isinstance(e.code, int) else 2
    try:
        return _COMMANDS[args.command](args)
    except NluError as e:
        _say(f"error: {e}")
        return 1
    except (ValueError, OSError) as e:
        _say(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
