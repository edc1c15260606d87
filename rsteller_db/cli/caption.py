"""``rsteller-db caption``: caption the pending requests; ``caption rules``: the quality rules."""

from __future__ import annotations

from pathlib import Path

import click

from ..caption import CaptionOptions, Sampling, backend_names, check_text, load_rules, run_captions
from ..caption import constrain as constraints
from ..caption.backends.base import PROMPT_MODES
from ..caption.fallback import run_with_fallback
from ..caption.rules import RULES_DIR, check_candidate, request_candidate
from ..paths import PROMPTS_DIR
from . import main
from .common import App, RstellerGroup, emit, format_option, partition_option

# Every default below is CaptionOptions's or Sampling's: declared once, in the library.
prompts_option = click.option(
    "--prompts",
    "prompts_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of the prompt templates [default: prompts/ of the project].",
)


def _tasks(_ctx, _param, value: str) -> tuple[int, ...]:
    try:
        tasks = tuple(sorted({int(t) for t in value.split(",") if t.strip()}))
    except ValueError:
        tasks = ()
    if not tasks or not set(tasks) <= {1, 2, 3}:
        raise click.BadParameter(f"{value!r}: give tasks among 1, 2, 3, e.g. --tasks 1,2")
    return tasks


def _option(flag: str, *decls: str, source: type = CaptionOptions, **kw):
    """An option that sets the field of ``source`` (CaptionOptions or Sampling) named after
    it (its parameter name, else the flag's), with that field's default, shown in --help."""
    field = next((d for d in decls if not d.startswith("-")), flag.lstrip("-").replace("-", "_"))
    return click.option(flag, *decls, default=getattr(source, field), show_default=True, **kw)


@main.group(cls=RstellerGroup, invoke_without_command=True)
@_option(
    "--backend", "-b", type=click.Choice(backend_names()),
    help="Where captions come from: an SGLang server, an OpenAI-compatible server, "
    "an embedded model (Gemma-3-270M by default, see --model), or deterministic templates.",
)
@click.option(
    "--url",
    "urls",
    multiple=True,
    metavar="URL",
    help="Server base URL (repeatable; requests go to the least busy one).",
)
@click.option(
    "--model",
    metavar="NAME",
    help="Model name (openai), model path (sglang.Engine), embedded model (local: "
    "smollm2-135m, gemma3-270m) or GGUF path (local).",
)
@click.option(
    "--tasks",
    default=",".join(map(str, CaptionOptions.tasks)),
    show_default=True,
    callback=_tasks,
    help="Tasks to caption: 1 area, 2 line, 3 revision of accepted 1/2 captions.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Caption at most N requests in this run.")
@_option(
    "--concurrency", type=click.IntRange(min=1),
    help="Batches in flight per server (--url), or in all for back ends without one. "
    "Keep concurrency x batch size above twice what a server runs at once, so it never waits.",
)
@_option(
    "--batch-size", type=click.IntRange(min=1),
    help="Prompts per call for back ends that take lists (sglang, template).",
)
@_option(
    "--retry-rejected", type=click.IntRange(min=0),
    help="Ask again, with another seed, up to K times for captions the rules reject.",
)
@click.option(
    "--fallback",
    type=click.Choice(["none", *backend_names()]),
    default="none",
    show_default=True,
    help="Back end for the requests still without an accepted caption after the retries "
    "(phase by phase, recorded under its own name), e.g. template.",
)
@_option("--max-tokens", source=Sampling, type=click.IntRange(min=1),
         help="Most new tokens per caption.")
@_option("--temperature", source=Sampling, type=float, help="Sampling temperature.")
@_option("--top-p", source=Sampling, type=float, help="Nucleus sampling threshold.")
@_option("--timeout", "timeout_s", type=float,
         help="Seconds per HTTP request before it is retried.")
@_option(
    "--retries", type=click.IntRange(min=0),
    help="Retries (with backoff) on timeouts, 5xx and dropped connections.",
)
@_option(
    "--chat-format",
    help="Chat template for sglang /generate: auto (the model's own, from its tokenizer "
    "config), or mistral, chatml, llama3, raw.",
)
@_option(
    "--prompt-mode", type=click.Choice(PROMPT_MODES),
    help="chat: the prompt as one user message in the model's chat template; completion: raw "
    "few-shot text the model continues to the end of the line (base models); auto: the "
    "model's default (completion for gemma3-270m, else chat).",
)
@_option(
    "--constrain", type=click.Choice(constraints.MODES),
    help="Constrained decoding to one paragraph of allowed characters in the task's word "
    "range: grammar (llama.cpp GBNF; sglang ebnf), regex, json_schema, none; auto: the back "
    "end's native form (local grammar, sglang regex, openai none).",
)
@prompts_option
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder of the caption quality rules [default: sql/50_caption_rules/ of the project].",
)
@click.option(
    "--where",
    metavar="CONDITION",
    help="Caption only the requests matching this SQL condition over request_id, patch_id, "
    "task, prompt_name and payload (one partition, a region, a sample).",
)
@partition_option("requests", "; combines with --where")
@format_option()
@click.pass_context
def caption(
    ctx: click.Context,
    fallback: str,
    max_tokens: int,
    temperature: float,
    top_p: float,
    prompts_dir: Path | None,
    rules_dir: Path | None,
    where: str | None,
    partitions: tuple[str, ...],
    fmt: str,
    **fields,
) -> None:
    """Caption the pending requests (Task 1/2, then Task 3 revisions) into the captions table.

    Re-running the same command resumes: only requests without an accepted caption are asked
    again. Exit code 2 means some requests failed after their retries (see the summary).

    \b
    Example:
      rsteller-db caption                                  # embedded model, no server
      rsteller-db caption --model gemma3-270m --prompt-mode completion
      rsteller-db caption --backend template               # instant, deterministic
      rsteller-db caption --backend openai --url http://127.0.0.1:8000 --concurrency 4
      rsteller-db caption --backend sglang --url http://gpu1:30000 --url http://gpu2:30000 \\
          --batch-size 64 --retry-rejected 2
      rsteller-db caption --retry-rejected 2 --fallback template  # what just build runs
      rsteller-db caption --backend template --where "patch_id % 4 = 0"
      rsteller-db caption --partition n41w075 --partition n41w076
      rsteller-db caption rules
    """
    if ctx.invoked_subcommand is not None:
        return
    app: App = ctx.find_object(App)
    if partitions:
        where = _partition_where(app, partitions, where)
    options = CaptionOptions(
        **fields,  # backend, urls, model, tasks, limit, concurrency, ...: one field each
        sampling=Sampling(temperature, top_p, max_tokens),
        prompts_dir=prompts_dir or PROMPTS_DIR,
        rules_dir=rules_dir or RULES_DIR,
        where=where,
    )
    if fallback == "none":
        summary = run_captions(app.path, options, settings=app.settings, reporter=app.reporter)
    else:
        summary = run_with_fallback(
            app.path, options, fallback, settings=app.settings, reporter=app.reporter
        )
    emit(["item", "value"], summary.rows(), fmt)
    if summary.failed:
        click.echo(
            f"{summary.failed} request(s) failed after retries; re-run the same command to "
            "ask for them again",
            err=True,
        )
        ctx.exit(2)


def _partition_where(app: App, partitions: tuple[str, ...], where: str | None) -> str:
    """``--where`` narrowed to the patches of ``--partition``'s partitions, which must exist."""
    from ..stages import partitions as parts

    if bad := parts.bad_keys(partitions):
        raise click.BadParameter(
            f"{', '.join(bad)}: a partition key is the south-west corner of its cell, e.g. "
            "n41w075 (see int_patches_gridded.partition_key)", param_hint="--partition")
    with app.open(read_only=True) as wh:
        if not wh.relation_exists("int_patches_gridded"):
            raise click.UsageError("--partition needs a built warehouse: run `rsteller-db build`")
        if missing := parts.missing_keys(wh.con, partitions):
            known = parts.known_keys(wh.con, limit=9)
            listed = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
            raise click.BadParameter(
                f"no patch is in partition {', '.join(missing)} (the warehouse has: "
                f"{listed or 'none'})", param_hint="--partition")
    condition = parts.patches_condition(partitions)
    return f"({where}) AND {condition}" if where else condition


@caption.command("rules")
@click.option(
    "--check", "text", metavar="TEXT", help="Check one caption instead of listing the rules."
)
@click.option(
    "--task",
    type=click.IntRange(1, 3),
    help="Task of the caption given to --check [default: 1, or the request's task].",
)
@click.option(
    "--request",
    "request_id",
    metavar="REQUEST_ID",
    help="Judge the --check caption against this request's payload and rendered prompt in "
    "the warehouse (caption_requests or revision_requests), as a caption run does.",
)
@prompts_option
@format_option()
@click.pass_context
def rules(
    ctx: click.Context,
    text: str | None,
    task: int | None,
    request_id: str | None,
    prompts_dir: Path | None,
    fmt: str,
) -> None:
    """List the caption quality rules (sql/50_caption_rules/), or check one caption against them.

    A rejected caption is stored with the name of the first rule that caught it. Without
    --request only the text is judged (the rules that read facts have none to read); with
    --request the caption is judged against that request's facts and prompt.

    \b
    Example:
      rsteller-db caption rules
      rsteller-db caption rules --check "Caption: a forest." --task 1
      rsteller-db caption rules --request 4144012536454178-t2 \\
          --check "Pine Street runs straight from the left edge to the right edge."
    """
    if request_id is not None and text is None:
        raise click.UsageError("--request judges the caption given with --check TEXT")
    if text is not None:
        if request_id is None:
            verdict = check_text(text, task or 1)
        else:
            app: App = ctx.find_object(App)
            candidate = request_candidate(
                app.path,
                request_id,
                text,
                prompts_dir=prompts_dir or PROMPTS_DIR,
                max_chars=int(app.settings["tag_value_max_chars"]),
            )
            if task is not None and task != candidate.task:
                raise click.UsageError(
                    f"request {request_id} is a Task {candidate.task} request, not Task {task}: "
                    "drop --task or pass the matching one"
                )
            verdict = check_candidate(candidate)
        emit(["status", "rule"], [("rejected" if verdict else "accepted", verdict)], fmt)
        return
    emit(
        ["order", "rule", "tasks", "kind", "why", "file"],
        [
            (r.order, r.name, ",".join(map(str, r.tasks)), r.kind, r.why, r.path.name)
            for r in load_rules()
        ],
        fmt,
    )
