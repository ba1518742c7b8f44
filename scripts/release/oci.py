#!/usr/bin/env python3
"""The registry questions and the one artifact scripts/release.sh cannot hand to docker or helm,
through the ORAS project's Python SDK (oras, PyPI).

    oci.py exists REF            exit 0 when REF (repo:tag) exists, 1 when it does not, 2 on error
    oci.py push-sbom REF FILE    pushes FILE (a CycloneDX JSON SBOM) as an OCI artifact, prints its digest
    oci.py pull REF DIR          pulls an artifact's files into DIR, prints their paths

REGISTRY_PLAIN_HTTP=1 talks HTTP; REGISTRY_USERNAME and REGISTRY_PASSWORD log in first.
"""
from __future__ import annotations

import os
import sys

import oras.client
import oras.defaults

SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"


def client_for(ref: str) -> oras.client.OrasClient:
    client = oras.client.OrasClient(insecure=os.environ.get("REGISTRY_PLAIN_HTTP") == "1")
    if os.environ.get("REGISTRY_USERNAME"):
        client.login(username=os.environ["REGISTRY_USERNAME"], password=os.environ.get("REGISTRY_PASSWORD", ""),
                     hostname=ref.split("/", 1)[0])
    return client


def exists(ref: str) -> int:
    client = client_for(ref)
    container = client.get_container(ref)
    client.auth.load_configs(container)
    url = f"{client.prefix}://{container.manifest_url()}"
    headers = {"Accept": ", ".join(oras.defaults.default_manifest_accepted_media_types)}
    response = client.do_request(url, "HEAD", headers=headers)
    if response.status_code == 200:
        return 0
    if response.status_code == 404:
        return 1
    print(f"oci.py: {ref}: the registry answered {response.status_code} {response.reason}", file=sys.stderr)
    return 2


def push_sbom(ref: str, path: str) -> int:
    client = client_for(ref)
    directory, name = os.path.split(os.path.abspath(path))
    cwd = os.getcwd()
    os.chdir(directory)  # oras names each layer after its path: the bare file name
    try:
        response = client.push(target=ref, files=[f"{name}:{SBOM_MEDIA_TYPE}"], quiet=True,
                               manifest_annotations={"org.opencontainers.image.title": name})
    finally:
        os.chdir(cwd)
    print(response.headers["Docker-Content-Digest"])
    return 0


def pull(ref: str, directory: str) -> int:
    for path in client_for(ref).pull(target=ref, outdir=directory):
        print(path)
    return 0


def main(argv: list[str]) -> int:
    commands = {"exists": (exists, 1), "push-sbom": (push_sbom, 2), "pull": (pull, 2)}
    if not argv or argv[0] not in commands or len(argv) - 1 != commands[argv[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[argv[0]][0](*argv[1:])
    except Exception as error:  # noqa: BLE001 (any failure: one line naming the problem, not a traceback)
        print(f"oci.py {argv[0]} {argv[1]}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
