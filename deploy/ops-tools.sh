#!/usr/bin/env bash
# The tools that check deploy/ (Prometheus rules, Kubernetes manifests), installed from registries.
#
#   deploy/ops-tools.sh ensure   install what is missing: Debian's prometheus (promtool), kubeconform
#                                and kustomize built with `go install`, and the Kubernetes JSON
#                                schemas that the PyPI package kubernetes-validate ships
#   deploy/ops-tools.sh prometheus   install Debian's prometheus (server and promtool) if missing
#   deploy/ops-tools.sh check    exit 0 when every tool is there, else name what is missing
#   deploy/ops-tools.sh env      print the shell lines that put the tools on PATH (for eval)
#
# Go tools and schemas are cached under deploy/.cache/ (gitignored); promtool is a system package.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=$here/.cache
bin=$cache/bin
schema_venv=$cache/k8s-schemas

KUBECONFORM_VERSION=v0.7.0
KUSTOMIZE_VERSION=v5.8.1
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes API version the manifests are validated against (a schema set of kubernetes-validate).
KUBERNETES_VERSION=${CASEGOLD_K8S_VERSION:-1.33.0}

log() { printf '[ops-tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

promtool_path() { command -v promtool 2>/dev/null || { [[ -x /usr/bin/promtool ]] && echo /usr/bin/promtool; }; }

shipped_schemas() {
    # The folder of strict schemas of KUBERNETES_VERSION inside kubernetes-validate.
    local site
    site=$(compgen -G "$schema_venv/lib/python3*/site-packages/kubernetes_validate" | head -n 1) || return 1
    local dir=$site/kubernetes-json-schema/v$KUBERNETES_VERSION-local-strict
    [[ -d $dir ]] && echo "$dir"
}

schema_dir() {
    # The same schemas as kubeconform reads them: one file a kind, references between files.
    local dir=$cache/kubeconform-schemas/v$KUBERNETES_VERSION
    [[ -f $dir/deployment-apps-v1.json ]] && echo "$dir"
}

derive_schemas() {
    # kubernetes-validate's files name each other by absolute URL ($id https://kubernetes.io/api/…,
    # $ref /api/_definitions.json#…), which its own resolver maps to files; kubeconform loads
    # local schemas by path, so the copy refers to _definitions.json beside each file instead.
    local from to=$cache/kubeconform-schemas/v$KUBERNETES_VERSION
    from=$(shipped_schemas) || die "kubernetes-validate has no schemas for Kubernetes $KUBERNETES_VERSION"
    rm -rf "$to" && mkdir -p "$to"
    "$schema_venv/bin/python" - "$from" "$to" <<'EOF'
import json, pathlib, sys
source, target = map(pathlib.Path, sys.argv[1:])
for path in source.glob("*.json"):
    schema = json.loads(path.read_text())
    schema.pop("$id", None)
    text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
    (target / path.name).write_text(text)
EOF
}

prometheus_path() { command -v prometheus 2>/dev/null || { [[ -x /usr/bin/prometheus ]] && echo /usr/bin/prometheus; }; }

ensure_promtool() {
    promtool_path >/dev/null && prometheus_path >/dev/null && return 0
    log "promtool missing: installing Debian's prometheus package"
    as_root apt-get update -qq
    # The package's service is not wanted here: only its promtool and prometheus binaries are.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 as_root apt-get install -y -qq --no-install-recommends \
        prometheus >/dev/null
    if [[ -d /run/systemd/system ]]; then
        # On a machine with systemd the package starts its own server on :9090: not wanted.
        as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    promtool_path >/dev/null || die "promtool still missing after installing prometheus"
}

go_tool() {
    local name=$1 module=$2
    [[ -x $bin/$name ]] && return 0
    command -v go >/dev/null || die "go not found: install Debian's golang-go (go 1.22 or newer)"
    log "building $name from $module"
    mkdir -p "$bin"
    GOBIN=$bin GOFLAGS=-buildvcs=false go install "$module"
}

ensure_schemas() {
    schema_dir >/dev/null && return 0
    if ! shipped_schemas >/dev/null; then
        log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (Kubernetes JSON schemas)"
        rm -rf "$schema_venv"
        python3 -m venv "$schema_venv"
        "$schema_venv/bin/pip" install -q --disable-pip-version-check \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    fi
    derive_schemas
    schema_dir >/dev/null || die "no schemas for Kubernetes $KUBERNETES_VERSION"
}

missing() {
    local gone=()
    promtool_path >/dev/null || gone+=(promtool)
    [[ -x $bin/kubeconform ]] || gone+=(kubeconform)
    [[ -x $bin/kustomize ]] || gone+=(kustomize)
    schema_dir >/dev/null || gone+=(kubernetes-schemas)
    echo "${gone[*]}"
}

case ${1:-} in
    ensure)
        # The cache ignores itself, so no checkout ever commits a built tool or a schema.
        mkdir -p "$cache" && printf '*\n' >"$cache/.gitignore"
        ensure_promtool
        go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
        go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
        ensure_schemas
        log "ready: $(promtool_path), $bin/kubeconform, $bin/kustomize, schemas $(schema_dir)"
        ;;
    prometheus)
        ensure_promtool
        ;;
    check)
        gone=$(missing)
        [[ -z $gone ]] || die "missing: $gone (run deploy/ops-tools.sh ensure)"
        ;;
    env)
        printf 'export PATH=%q:"$PATH"\n' "$bin"
        printf 'export CASEGOLD_K8S_SCHEMAS=%q\n' "$(schema_dir || true)"
        ;;
    *)
        sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
