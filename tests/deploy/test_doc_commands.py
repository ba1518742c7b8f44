"""The commands the docs show, checked as far as they go without a cluster (issue 21).

A new user follows README.md, docs/*.md and the chart's README to the letter, so every command
they show (the shell code blocks, and the inline commands of the prose and tables) is read here:
- a repository path it names (`-f tests/...`, `helm/racontemoi`, `k8s/`) must exist, and a script
  it runs must be executable;
- `helm install|upgrade|template` is rendered with `helm template`, the same chart, `-f` files and
  `--set`s (an `oci://.../charts/racontemoi` chart is this chart, as published); every `--set` key
  must be a value of values.yaml or values.schema.json. An install must configure the student API's
  credentials (without them it answers 503), and no render may pin a PVC's `storageClassName`
  the command did not set itself (many clusters have no class of that name: the PVC stays Pending);
- `kubectl apply -k DIR` and `kubectl kustomize DIR` are rendered with `kubectl kustomize DIR`;
- `kustomize` itself is refused: nothing installs it, and kubectl has no `edit`;
- `scripts/test.sh` stages exist, `scripts/release.sh` options are in its `--help`,
  `scripts/version.sh` subcommands exist (the read-only ones are run).
Commands that need a cluster, a registry or Docker (`kubectl create`, `helm test`, `docker`,
`curl`, `git`) are only held to the path rule.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import CHART, KUBE_VERSION, ROOT, load_docs, run, tool

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), CHART / "README.md"]
OVERLAY = ROOT / "docs" / "examples" / "k8s-overlay"
SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console"}
# What a command may start with to be read from an inline code span of the prose.
INLINE_PROGRAMS = ("helm", "kubectl", "kustomize", "scripts/", "./scripts/", "sudo", "cd")
# helm flags that take a value (the others are switches, or --flag=value).
HELM_VALUE_FLAGS = {"-n", "--namespace", "-f", "--values", "--set", "--set-string", "--set-json", "--set-file",
                    "--version", "--kube-version", "--timeout", "--description", "--repo", "--username",
                    "--password", "--post-renderer", "--kube-context", "--kubeconfig"}
SET_FLAGS = ("--set", "--set-string", "--set-json", "--set-file")
# Written as placeholders for the user to fill in: such a value is not checked.
PLACEHOLDER = re.compile(r"\.\.\.|…|<[a-z-]+>|\$[A-Za-z{(]|\bOWNER\b|\bREGISTRY\b|X\.Y\.Z")


@dataclass
class Command:
    doc: Path
    line: int
    argv: list[str]
    problems: list[str] = field(default_factory=list)
    rendered: bool = False  # run through helm template, kubectl kustomize or scripts/version.sh

    def __str__(self) -> str:
        doc = self.doc.relative_to(ROOT) if self.doc.is_relative_to(ROOT) else self.doc
        return f"{doc}:{self.line}: {shlex.join(self.argv)}"


def logical_lines(block: str, first_line: int):
    """(line number, text) of a shell block: continuations joined, heredoc bodies left out."""
    lines = block.split("\n")
    i = 0
    while i < len(lines):
        number, text = first_line + i, lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        heredoc = re.search(r"<<-?\s*'?\"?([A-Za-z_]+)", text)
        i += 1
        if heredoc:
            while i < len(lines) and lines[i].strip() != heredoc.group(1):
                i += 1
            i += 1
        yield number, text


def split_commands(text: str) -> list[list[str]]:
    """The simple commands of one shell line: split on ; && || | ( ), comments dropped."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # not shell (an unbalanced quote in a prose example)
        return []
    commands, current = [], []
    for token in tokens:
        if token and set(token) <= set(";&|()"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    result = []
    for argv in commands:
        while argv and (argv[0] in ("do", "then", "else", "sudo", "env", "time")
                        or re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0])):
            argv = argv[1:]
        if argv:
            result.append(argv)
    return result


def doc_commands(doc: Path) -> list[Command]:
    """Every command of the doc's shell blocks, and every inline span that is a command."""
    found = []
    fence, language, block, start = None, "", [], 0
    for number, line in enumerate(doc.read_text().split("\n"), start=1):
        opening = re.match(r"^\s*(```+|~~~+)\s*([\w-]*)", line)
        if fence is None and opening:
            fence, language, block, start = opening.group(1), opening.group(2).lower(), [], number + 1
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                if language in SHELL_LANGUAGES:
                    for at, text in logical_lines("\n".join(block), start):
                        found += [Command(doc, at, argv) for argv in split_commands(text)]
                fence = None
            else:
                block.append(line)
            continue
        for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", line):
            if span.startswith(tuple(p + " " for p in INLINE_PROGRAMS)) or \
                    re.match(r"(\./)?scripts/\S+\.sh\b", span):
                found += [Command(doc, number, argv) for argv in split_commands(span)]
    return found


# --- the checks ---------------------------------------------------------------------------------

# The repository's own top-level names (not build outputs such as target/ or dist/).
TOP_LEVEL = {name.partition("/")[0] for name in
             run("git", "ls-files", "--cached", "--others", "--exclude-standard").stdout.split("\n") if name}


def check_paths(command: Command) -> None:
    """Each repository path the command names exists; a script it runs is executable."""
    for token in command.argv:
        value = token.partition("=")[2] if token.startswith("-") and "=" in token else token
        path = value.removeprefix("./")
        if PLACEHOLDER.search(path) or path.partition("/")[0] not in TOP_LEVEL or "/" not in path:
            continue
        if not (ROOT / path.rstrip("/")).exists():
            command.problems.append(f"{value}: no such file or directory in the repository")
    program = ROOT / command.argv[0].removeprefix("./")
    if program.is_file() and program.read_bytes().startswith(b"#!") and not os.access(program, os.X_OK):
        command.problems.append(f"{command.argv[0]} is not executable")


def values_key_exists(key: str, schema: dict) -> bool:
    """Whether `a.b[0].c` names a value values.schema.json allows (it closes every object of
    values.yaml with `additionalProperties: false`; an object it leaves open takes any key)."""
    node = schema  # None: a part the schema leaves open
    for index, name in re.findall(r"\[(\d+)\]|((?:\\.|[^.\[\]])+)", key):
        if node is None:
            continue
        if index:
            types = node.get("type", [])
            if "array" not in (types if isinstance(types, list) else [types]):
                return False
            node = node.get("items")
            continue
        name = name.replace("\\.", ".")
        properties = node.get("properties", {})
        if name in properties:
            node = properties[name]
            continue
        extra = node.get("additionalProperties", True)
        if extra is False:
            return False
        node = extra if isinstance(extra, dict) else None
    return True


def helm_positionals(args: list[str]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """(positional arguments, [(flag, value)]) of a helm command line."""
    positionals, flags, i = [], [], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if eq:
                flags.append((name, value))
            elif name in HELM_VALUE_FLAGS and i + 1 < len(args):
                flags.append((name, args[i + 1]))
                i += 1
            else:
                flags.append((name, None))
        else:
            positionals.append(arg)
        i += 1
    return positionals, flags


def check_helm(command: Command, schema: dict) -> None:
    args = command.argv[1:]
    while args and args[0] in ("-n", "--namespace"):
        args = args[2:]
    if not args or args[0] not in ("install", "upgrade", "template"):
        return
    verb = args[0]
    positionals, flags = helm_positionals(args[1:])
    if len(positionals) < 2:
        return  # a mention (`helm template`), not a command
    name, chart = positionals[0], positionals[1]
    if chart.startswith("oci://"):
        if not chart.endswith("/charts/racontemoi"):
            command.problems.append(f"{chart}: the release publishes the chart as oci://REGISTRY/charts/racontemoi")
        chart_path = CHART  # the published chart is this one, its images pinned by digest
    elif PLACEHOLDER.search(chart):
        return
    elif re.fullmatch(r"[a-z0-9-]+/[a-z0-9-]+", chart) and chart.partition("/")[0] not in TOP_LEVEL:
        return  # another project's chart from a `helm repo add` (the CloudNativePG operator's)
    else:
        chart_path = ROOT / chart
        if chart_path.resolve() != CHART.resolve():
            command.problems.append(f"{chart}: not the chart (helm/racontemoi)")
            return
    render = [tool("helm"), "template", name, str(chart_path), "--kube-version", KUBE_VERSION]
    set_keys = []
    for flag, value in flags:
        if flag in ("-n", "--namespace", "-f", "--values") + SET_FLAGS and value is not None:
            if flag in SET_FLAGS:
                for assignment in re.split(r",(?=[\w.\[\]\\-]+=)", value):
                    key = assignment.partition("=")[0]
                    set_keys.append(key)
                    if not values_key_exists(key, schema):
                        command.problems.append(f"{flag} {key}: no such value in values.yaml or values.schema.json")
            render += [flag, value]
    if command.problems:
        return
    proc = run(*render, check=False)
    command.rendered = True
    if proc.returncode != 0:
        command.problems.append(f"helm template with the same chart, -f and --set fails: {proc.stderr.strip()}")
        return
    docs = load_docs(proc.stdout)
    if verb in ("install", "upgrade") and not credentials_configured(docs):
        command.problems.append("installs without students.auth.existingSecret (or username and password): "
                                "the student API answers 503")
    if not any(key.endswith("storageClassName") for key in set_keys):
        for claim, storage_class in storage_classes(docs):
            command.problems.append(f"{claim} pins storageClassName {storage_class!r} (from a -f file): a user's "
                                    "example takes the cluster's default class, where a named one may not exist")


def credentials_configured(docs: list[dict]) -> bool:
    """Whether the back gets the student API's credentials (API_USERNAME or API_USERNAME_FILE)."""
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            if any(e.get("name") in ("API_USERNAME", "API_USERNAME_FILE") for e in container.get("env", [])):
                return True
    return False


def storage_classes(docs: list[dict]):
    """(claim, storageClassName) of every PVC the render makes, standalone or in a StatefulSet."""
    for doc in docs:
        claims = [doc] if doc["kind"] == "PersistentVolumeClaim" else \
            doc.get("spec", {}).get("volumeClaimTemplates", []) if doc["kind"] == "StatefulSet" else []
        for claim in claims:
            if claim.get("spec", {}).get("storageClassName") is not None:
                yield f"PersistentVolumeClaim {claim['metadata']['name']}", claim["spec"]["storageClassName"]


def check_kubectl(command: Command) -> None:
    args = command.argv[1:]
    target = None
    if args[:1] == ["kustomize"] and len(args) > 1:
        target = args[1]
    elif args[:1] in (["apply"], ["delete"], ["diff"]):
        for flag, value in itertools.pairwise(args):
            if flag in ("-k", "--kustomize"):
                target = value
    if target is None or PLACEHOLDER.search(target):
        return
    if not (ROOT / target).is_dir():
        return  # named by check_paths
    proc = run(tool("kubectl"), "kustomize", str(ROOT / target), check=False)
    command.rendered = True
    if proc.returncode != 0:
        command.problems.append(f"kubectl kustomize {target} fails: {proc.stderr.strip()}")


def script_help(script: str) -> str:
    return run(str(ROOT / script), "--help", check=False).stdout


def check_script(command: Command) -> None:
    script = command.argv[0].removeprefix("./")
    args = command.argv[1:]
    if not (ROOT / script).is_file():
        return  # named by check_paths
    if script == "scripts/test.sh":
        for stage in args:
            if not stage.startswith("-") and not (ROOT / "scripts" / "stages" / f"{stage}.sh").is_file():
                command.problems.append(f"scripts/test.sh {stage}: no such stage (scripts/stages/)")
    elif script == "scripts/release.sh":
        options = set(re.findall(r"--[a-z-]+", script_help(script)))
        for arg in args:
            if arg.startswith("--") and arg.partition("=")[0] not in options | {"--help"}:
                command.problems.append(f"scripts/release.sh {arg}: not an option (scripts/release.sh --help)")
    elif script == "scripts/version.sh":
        if args in ([], ["check"], ["registry"]):
            proc = run(str(ROOT / script), *args, check=False)
            command.rendered = True
            if proc.returncode != 0:
                command.problems.append(f"fails: {proc.stderr.strip()}")
        elif args in (["set"], ["registry", "set"]):
            pass  # a mention in the prose, its argument left out
        elif not (args[0] == "set" and len(args) == 2) and not (args[:2] == ["registry", "set"] and len(args) == 3):
            command.problems.append("not a scripts/version.sh command (see its header)")


def check(command: Command, schema: dict) -> Command:
    check_paths(command)
    program = command.argv[0].removeprefix("./")
    if program == "kustomize":
        command.problems.append("kustomize is not installed by anything here and kubectl has no `edit`: "
                                "show an overlay (`kubectl apply -k`) instead")
    elif program == "helm":
        check_helm(command, schema)
    elif program == "kubectl":
        check_kubectl(command)
    elif program.startswith("scripts/"):
        check_script(command)
    return command


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_commands_a_doc_shows_work(doc, schema):
    commands = [check(c, schema) for c in doc_commands(doc)]
    problems = [f"{c}\n    {p}" for c in commands for p in c.problems]
    print(f"\n{doc.relative_to(ROOT)}: {len(commands)} commands, "
          f"{sum(c.argv[0] in ('helm', 'kubectl') for c in commands)} helm/kubectl, "
          f"{sum(c.rendered for c in commands)} rendered or run")
    assert not problems, "\n".join(problems)


def test_the_docs_show_the_commands_a_user_runs():
    """The reader finds what the issue named: the README's oci:// install, the overlay, the modes."""
    shown = {str(c): c for doc in DOCS for c in doc_commands(doc)}
    texts = [" ".join(c.argv) for c in shown.values()]
    assert any(t.startswith("helm install racontemoi oci://") for t in texts), texts
    assert any(t.startswith("kubectl apply -k docs/examples/k8s-overlay") for t in texts), texts
    assert sum(t.startswith(("helm install racontemoi helm/racontemoi",
                             "helm upgrade --install racontemoi helm/racontemoi")) for t in texts) >= 5
    assert any("students.persistence.enabled" in t for t in texts)


def test_the_checker_catches_a_missing_file_and_an_unknown_value(tmp_path, schema):
    doc = tmp_path / "wrong.md"
    doc.write_text(
        "Render it with `helm template racontemoi helm/racontemoi -f tests/deploy/values/nothing.yaml`.\n"
        "```sh\n"
        "helm install racontemoi helm/racontemoi --namespace racontemoi \\\n"
        "  --set students.auth.existingSecret=creds --set students.persistance.enabled=true\n"
        "helm install racontemoi helm/racontemoi -f tests/deploy/values/persistence.yaml\n"
        "helm install racontemoi oci://ghcr.io/<owner>/charts/racontemoi --version 0.2.0 -n racontemoi\n"
        "cd k8s && kustomize edit set image racontemoi-back=registry.example.com/racontemoi-back@sha256:...\n"
        "kubectl apply -k k8s/overlays/mine\n"
        "scripts/test.sh lint nosuchstage\n"
        "scripts/release.sh --no-such-option ghcr.io/me\n"
        "```\n")
    problems = [(c.line, p) for c in (check(c, schema) for c in doc_commands(doc)) for p in c.problems]
    text = "\n".join(f"{line}: {p}" for line, p in problems)
    assert "tests/deploy/values/nothing.yaml: no such file" in text, text
    assert "--set students.persistance.enabled: no such value" in text, text
    assert "pins storageClassName 'standard'" in text and "installs without students.auth" in text, text
    assert "kustomize is not installed" in text, text
    assert "k8s/overlays/mine: no such file" in text, text
    assert "nosuchstage: no such stage" in text and "--no-such-option: not an option" in text, text


def test_the_overlay_example_replaces_both_images():
    """docs/examples/k8s-overlay, as `kubectl apply -k` takes it: k8s/ with the overlay's images."""
    overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    base = load_docs(run(tool("kubectl"), "kustomize", str(ROOT / "k8s")).stdout)
    docs = load_docs(run(tool("kubectl"), "kustomize", str(OVERLAY)).stdout)
    expected = {f"{i['newName']}@{i['digest']}" for i in overlay["images"]}
    images = {c["image"] for d in docs for c in d.get("spec", {}).get("template", {}).get("spec", {})
              .get("containers", [])}
    assert images == expected, images
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [(d["kind"], d["metadata"]["name"]) for d in base]
    for image in overlay["images"]:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])


# A new user runs the README, then docs/deploy.md, then the chart's README, in that order (issue 27).
FLOW = [ROOT / "README.md", ROOT / "docs" / "deploy.md", CHART / "README.md"]

# (what needs it, a pattern a command must match to need it, a pattern of the text that names or
# installs it before): the cluster-wide prerequisites of a step.
PREREQUISITES = [
    ("Argo CD", re.compile(r"^kubectl apply -k (\./)?argocd/?$"),
     re.compile(r"argo-cd/stable/manifests/install\.yaml|needs Argo CD installed first|Argo CD itself comes first"
                r"|Argo CD \(installed first")),
    ("the CloudNativePG operator",
     re.compile(r"^helm (install|upgrade --install) .*(cloudnativepg\.enabled=true|values-prod\.yaml"
                r"|database-(cloudnativepg|day2|restore)\.yaml)"),
     re.compile(r"releases/cnpg-\$\{CNPG_VERSION\}\.yaml|cnpg/cloudnative-pg|operator must be installed first")),
    ("the Barman Cloud plugin", re.compile(r"^helm (install|upgrade --install) .*backups\.enabled=true"),
     re.compile(r"[Ii]nstall the Barman Cloud plugin")),
]


def missing_prerequisites(doc: Path) -> list[str]:
    """Each prerequisite named (installed, or said to be installed first) before the first command
    that needs it, or on its line, in the same doc."""
    lines = doc.read_text().split("\n")
    problems = []
    for what, needs, named in PREREQUISITES:
        first = next((c for c in doc_commands(doc) if needs.search(" ".join(c.argv))), None)
        if first is not None and not named.search("\n".join(lines[:first.line])):
            problems.append(f"{first}: needs {what}, which nothing before it installs or names")
    return problems


def _written(argv: list[str]) -> set[str]:
    """Files a command writes: `> FILE`, `-o FILE` (curl's -fsSLo too), `--output FILE`, `-out FILE`."""
    out = set()
    for flag, value in itertools.pairwise(argv):
        if flag in (">", ">>", "--output", "-out") or re.fullmatch(r"-[a-zA-Z]*o", flag):
            out.add(value)
    return out


def _read(argv: list[str]) -> set[str]:
    """Local files a kubectl command reads: --from-file=[KEY=]FILE, -f FILE (not a URL, not the repo's)."""
    if not argv or argv[0] != "kubectl":
        return set()
    found = set()
    for flag, value in itertools.pairwise([*argv, ""]):
        if flag.startswith("--from-file="):
            found.add(flag.partition("=")[2].rpartition("=")[2])
        elif flag in ("-f", "--filename") and value:
            found.add(value)
    return {f for f in found if "://" not in f and not PLACEHOLDER.search(f)
            and f.partition("/")[0] not in TOP_LEVEL and f != "-"}


def unmade_files(doc: Path) -> list[str]:
    """A file a command reads must be made by an earlier command of the same doc."""
    made, problems = set(), []
    for command in doc_commands(doc):
        for path in sorted(_read(command.argv) - made):
            problems.append(f"{command}: reads {path}, which no step before it makes")
        made |= _written(command.argv)
    return problems


def reinstalls(docs: list[Path]) -> list[str]:
    """Along the reading flow, `helm install RELEASE helm/racontemoi` once: a later one fails with
    `cannot reuse a name that is still in use` and must be `helm upgrade --install`."""
    installed, problems = set(), []
    for doc in docs:
        for command in doc_commands(doc):
            argv = command.argv
            if argv[:2] == ["helm", "install"] and len(argv) > 3 and argv[3].rstrip("/") == "helm/racontemoi":
                if argv[2] in installed:
                    problems.append(f"{command}: the release {argv[2]} is installed already (an earlier step): "
                                    "use helm upgrade --install")
                installed.add(argv[2])
    return problems


def unwaited_installs(doc: Path) -> list[str]:
    """An install that mounts Secrets made by hand (an external database's URL) carries --wait:
    without it, a missing Secret leaves the back in ContainerCreating while the install exits 0."""
    problems = []
    for command in doc_commands(doc):
        text = " ".join(command.argv)
        if re.match(r"helm (install|upgrade --install) ", text) and "students.database.existingSecret=" in text \
                and not re.search(r"(^| )--wait( |=|$)", text):
            problems.append(f"{command}: mounts a Secret made by hand: add --wait, or a missing one goes unnoticed")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_prerequisites_come_before_their_first_use(doc):
    problems = missing_prerequisites(doc) + unmade_files(doc) + unwaited_installs(doc)
    assert not problems, "\n".join(problems)


def test_the_reading_flow_installs_the_release_once():
    problems = reinstalls(FLOW)
    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_a_new_user_hit(tmp_path):
    """The failures of issue 27's new-user run: Argo CD not installed first, the provider's CA bundle
    that no step downloads, a second `helm install` of the same release."""
    doc = tmp_path / "flow.md"
    doc.write_text(
        "```sh\n"
        "helm install racontemoi helm/racontemoi -n racontemoi --set students.auth.existingSecret=c\n"
        "kubectl apply -k argocd/\n"
        "kubectl create configmap racontemoi-database-ca --from-file=ca.crt=global-bundle.pem\n"
        "helm install racontemoi helm/racontemoi -n racontemoi --set students.database.cloudnativepg.enabled=true\n"
        "helm upgrade --install racontemoi helm/racontemoi --set students.database.existingSecret=db\n"
        "```\n")
    problems = "\n".join(missing_prerequisites(doc) + unmade_files(doc) + reinstalls([doc]) + unwaited_installs(doc))
    assert "add --wait" in problems, problems
    assert "needs Argo CD" in problems, problems
    assert "needs the CloudNativePG operator" in problems, problems
    assert "reads global-bundle.pem, which no step before it makes" in problems, problems
    assert "use helm upgrade --install" in problems, problems
    fixed = tmp_path / "fixed.md"
    fixed.write_text(
        "```sh\n"
        "kubectl apply -n argocd --server-side -f https://raw.githubusercontent.com/argoproj/argo-cd/stable/manifests/install.yaml\n"
        "kubectl apply -k argocd/\n"
        "curl -fsSLo global-bundle.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem\n"
        "kubectl create configmap racontemoi-database-ca --from-file=ca.crt=global-bundle.pem\n"
        "```\n")
    assert not missing_prerequisites(fixed) + unmade_files(fixed)
