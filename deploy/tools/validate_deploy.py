#!/usr/bin/env python3
"""`make validate-deploy`: checks every manifest under deploy/k8s.

1. Kubernetes kinds: kubernetes-validate --strict against the Kubernetes
   1.37 OpenAPI schemas it ships (unknown fields are errors).
2. Istio kinds (no built-in schema): the validators @kubernetes-models/istio
   compiled from Istio's CRD OpenAPI schemas (types, enums, required), plus
   a TypeScript excess-property check against the same package's types, so a
   misspelt field is an error too.
3. kustomization.yaml lists files that exist, and every Kubernetes manifest.
4. The manifests agree with each other and with the server: selectors and
   labels, port names, probe ports, the shutdown timeline (preStop sleep +
   drain < grace period, liveness window > drain), retry policy.

Run from the repository root with the deploy venv's python and node on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TOOLS = ROOT / "deploy" / "tools"
KUBE_VERSION = "1.37.0"
ISTIO_GROUP = "networking.istio.io/"
# Retried by the mesh: a dying/draining pod or none at all. Not busy pods.
RETRY_REQUIRED = {"unavailable", "cancelled", "connect-failure", "reset"}
RETRY_FORBIDDEN = {"resource-exhausted", "deadline-exceeded", "internal", "5xx"}

errors: list[str] = []


def error(msg: str) -> None:
    errors.append(msg)
    print(f"ERROR {msg}")


def seconds(duration: str) -> float:
    """An Istio/protobuf duration such as '20s', '1.5s' or '500ms'."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    return float(m.group(1)) * scale


def load() -> list[tuple[Path, dict]]:
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if obj is not None:
                docs.append((path, obj))
    return docs


def kubernetes_schemas(docs: list[tuple[Path, dict]]) -> None:
    files = sorted(
        {
            str(p.relative_to(ROOT))
            for p, o in docs
            if not o["apiVersion"].startswith(ISTIO_GROUP) and o["kind"] != "Kustomization"
        }
    )
    exe = Path(sys.executable).with_name("kubernetes-validate")
    run = subprocess.run(
        [str(exe), "--strict", "-k", KUBE_VERSION, *files], cwd=ROOT, text=True, capture_output=True
    )
    sys.stdout.write(run.stdout + run.stderr)
    if run.returncode != 0 or "ERROR" in run.stdout + run.stderr or "WARN" in run.stdout + run.stderr:
        error(f"kubernetes-validate failed for {', '.join(files)}")


def istio_schemas(docs: list[tuple[Path, dict]]) -> None:
    istio = [(p, o) for p, o in docs if o["apiVersion"].startswith(ISTIO_GROUP)]
    if not istio:
        return
    node = shutil.which("node")
    if node is None:
        error("node not found; the Istio check needs Node.js (apt-get install nodejs)")
        return
    payload = json.dumps([{"file": str(p.relative_to(ROOT)), "object": o} for p, o in istio])
    run = subprocess.run(
        [node, str(TOOLS / "validate-istio.mjs")], input=payload, text=True, capture_output=True, cwd=TOOLS
    )
    sys.stdout.write(run.stdout + run.stderr)
    if run.returncode != 0:
        error("Istio schema check failed")

    # Excess-property check: each object as a typed TypeScript literal.
    types = {"DestinationRule": "IDestinationRule", "VirtualService": "IVirtualService"}
    lines = []
    for i, (path, obj) in enumerate(istio):
        iface = types.get(obj["kind"])
        if iface is None:
            continue
        module = f"@kubernetes-models/istio/{obj['apiVersion']}/{obj['kind']}"
        lines.append(f'import type {{ {iface} as T{i} }} from "{module}";')
        lines.append(f"// {path.relative_to(ROOT)}")
        lines.append(f"export const o{i}: T{i} = {json.dumps(obj, indent=1)};")
    with tempfile.NamedTemporaryFile("w", suffix=".ts", dir=TOOLS, delete=False) as ts:
        ts.write("\n".join(lines) + "\n")
    try:
        tsc = TOOLS / "node_modules" / "typescript" / "bin" / "tsc"
        run = subprocess.run(
            [node, str(tsc), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext",
             "--target", "es2022", "--skipLibCheck", ts.name],
            cwd=TOOLS, text=True, capture_output=True,
        )
    finally:
        Path(ts.name).unlink()
    if run.returncode != 0:
        sys.stdout.write(run.stdout + run.stderr)
        error("Istio objects have fields the Istio CRD types do not know")
    else:
        print(f"INFO {len(istio)} Istio objects: no field unknown to the Istio CRD types")


def kustomization(docs: list[tuple[Path, dict]]) -> None:
    kust = [(p, o) for p, o in docs if o["kind"] == "Kustomization"]
    for path, obj in kust:
        listed = {(path.parent / r).resolve() for r in obj.get("resources", [])}
        for r in listed:
            if not r.is_file():
                error(f"{path.relative_to(ROOT)} lists {r} which does not exist")
        core = {p.resolve() for p, o in docs if p.parent == path.parent and o["kind"] != "Kustomization"}
        for missing in sorted(core - listed):
            error(f"{path.relative_to(ROOT)} does not list {missing.name}")
        print(f"INFO {path.relative_to(ROOT)}: {len(listed)} resources, all present")


def by_kind(docs: list[tuple[Path, dict]], kind: str) -> dict:
    found = [o for _, o in docs if o["kind"] == kind]
    if len(found) != 1:
        error(f"expected exactly one {kind}, found {len(found)}")
        return {}
    return found[0]


def consistency(docs: list[tuple[Path, dict]]) -> None:
    dep, svc, hpa, pdb = (by_kind(docs, k) for k in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"))
    dr, vs = by_kind(docs, "DestinationRule"), by_kind(docs, "VirtualService")
    if not all((dep, svc, hpa, pdb, dr, vs)):
        return
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    selector = dep["spec"]["selector"]["matchLabels"]
    if any(labels.get(k) != v for k, v in selector.items()):
        error("Deployment selector does not match its pod labels")
    if any(labels.get(k) != v for k, v in svc["spec"]["selector"].items()):
        error("Service selector does not match the Deployment's pods")
    if pdb["spec"]["selector"]["matchLabels"] != selector:
        error("PodDisruptionBudget selector differs from the Deployment's")
    target = hpa["spec"]["scaleTargetRef"]
    if (target["kind"], target["name"]) != ("Deployment", dep["metadata"]["name"]):
        error("HPA does not target the Deployment")
    if hpa["spec"]["minReplicas"] <= pdb["spec"]["maxUnavailable"]:
        error("HPA minReplicas must exceed the PDB's maxUnavailable")

    spec = pod["spec"]
    (container,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    listen_port = int(env["KHULASA_LISTEN"].rsplit(":", 1)[1])
    if ports.get("grpc") != listen_port:
        error(f"container port grpc {ports.get('grpc')} is not KHULASA_LISTEN's {listen_port}")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = container.get(probe)
        if p is None or "grpc" not in p:
            error(f"{probe} must be a gRPC probe")
        elif p["grpc"]["port"] != listen_port:
            error(f"{probe} checks port {p['grpc']['port']}, the server listens on {listen_port}")
    if container["readinessProbe"]["grpc"].get("service") != "khulasa.v1.Summarizer":
        error("readinessProbe should check the khulasa.v1.Summarizer service")
    for port in svc["spec"]["ports"]:
        if port.get("appProtocol") != "grpc":
            error(f"Service port {port['name']} lacks appProtocol: grpc")
        if port["targetPort"] not in ports and port["targetPort"] not in ports.values():
            error(f"Service targetPort {port['targetPort']} is no container port")

    drain = int(env.get("KHULASA_DRAIN_SECONDS") or 30)
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = spec["terminationGracePeriodSeconds"]
    if grace <= pre_stop + drain:
        error(f"terminationGracePeriodSeconds {grace} must exceed preStop {pre_stop} s + drain {drain} s")
    live = container["livenessProbe"]
    if live["periodSeconds"] * live["failureThreshold"] <= drain:
        error("liveness window must outlast the drain (health is NOT_SERVING while draining)")
    sc = container["securityContext"]
    if not (spec["securityContext"].get("runAsNonRoot") and sc.get("readOnlyRootFilesystem")
            and sc.get("allowPrivilegeEscalation") is False):
        error("the pod must run as non-root with a read-only root filesystem, no privilege escalation")
    mem = container["resources"]["limits"]["memory"]
    if not re.fullmatch(r"\d+(Mi|Gi)", mem):
        error(f"memory limit {mem}: use Mi or Gi")
    print(f"INFO shutdown: preStop {pre_stop} s + drain {drain} s < grace {grace} s; "
          f"liveness window {live['periodSeconds'] * live['failureThreshold']} s")

    svc_name, svc_port = svc["metadata"]["name"], svc["spec"]["ports"][0]["port"]
    if dr["spec"]["host"] != svc_name:
        error(f"DestinationRule host {dr['spec']['host']} is not the Service {svc_name}")
    for route in vs["spec"]["http"]:
        for dest in route["route"]:
            d = dest["destination"]
            if d["host"] != svc_name or d["port"]["number"] != svc_port:
                error(f"VirtualService route goes to {d['host']}:{d['port']['number']}, not {svc_name}:{svc_port}")
        retries = route.get("retries")
        if not retries:
            error(f"VirtualService route {route.get('name')} has no retry policy")
            continue
        on = set(retries["retryOn"].split(","))
        if not RETRY_REQUIRED <= on:
            error(f"retryOn lacks {sorted(RETRY_REQUIRED - on)}")
        if on & RETRY_FORBIDDEN:
            error(f"retryOn must not retry {sorted(on & RETRY_FORBIDDEN)}")
        total = seconds(retries["perTryTimeout"]) * retries["attempts"]
        if total > seconds(route["timeout"]):
            error(f"perTryTimeout x attempts = {total} s exceeds the route timeout {route['timeout']}")
    print("INFO manifests agree: selectors, ports, probes, shutdown timeline, retries")


def main() -> int:
    docs = load()
    kubernetes_schemas(docs)
    istio_schemas(docs)
    kustomization(docs)
    consistency(docs)
    if errors:
        print(f"validate-deploy: {len(errors)} problem(s)")
        return 1
    print(f"validate-deploy: {len(docs)} objects in {K8S.relative_to(ROOT)} are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
