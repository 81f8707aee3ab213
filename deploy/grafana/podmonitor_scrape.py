"""Prints, as a YAML list, the Prometheus scrape jobs that the Prometheus Operator makes of the
PodMonitors in rendered manifests (`helm template ...` on stdin), so that a plain Prometheus
scrapes the pods the chart's PodMonitor selects, labelled as the Operator labels them.

What is translated is what the chart uses: `selector.matchLabels`, `namespaceSelector`
(`any` or `matchNames`), and per `podMetricsEndpoints` entry `port`, `path`, `interval` and
`relabelings`. The Operator's own rules come first, as it writes them: pods that have ended are
dropped, the labels must match, the container port must carry the endpoint's name; then the
`namespace`, `container`, `pod` and `job` (`<namespace>/<name>`) labels, then the
PodMonitor's relabelings. Anything else in a PodMonitor is refused, not ignored.

Usage: helm template ... | python podmonitor_scrape.py KUBECONFIG [INTERVAL]
"""

import re
import sys

import yaml

HANDLED_SPEC = {"selector", "namespaceSelector", "podMetricsEndpoints"}
HANDLED_ENDPOINT = {"port", "path", "interval", "relabelings"}
RELABEL_KEYS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


def label_name(name):
    """A Kubernetes label key as Prometheus names its meta label."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def refuse(what, keys):
    extra = sorted(set(keys))
    if extra:
        sys.exit(f"podmonitor_scrape: {what} has fields this translation does not handle: {extra}")


def relabeling(r):
    refuse("a relabeling", set(r) - set(RELABEL_KEYS))
    out = {RELABEL_KEYS[k]: v for k, v in r.items()}
    if "action" in out:
        out["action"] = out["action"].lower()
    return out


def jobs(docs, kubeconfig, interval):
    out = []
    for doc in docs:
        if not doc or doc.get("kind") != "PodMonitor":
            continue
        meta, spec = doc["metadata"], doc["spec"]
        refuse("PodMonitor spec", set(spec) - HANDLED_SPEC)
        selector = spec.get("selector", {})
        refuse("the selector", set(selector) - {"matchLabels"})
        sd = {"role": "pod", "kubeconfig_file": kubeconfig}
        namespaces = spec.get("namespaceSelector", {})
        if not namespaces.get("any"):
            sd["namespaces"] = {"names": namespaces.get("matchNames") or [meta["namespace"]]}
        for i, ep in enumerate(spec["podMetricsEndpoints"]):
            refuse("a podMetricsEndpoint", set(ep) - HANDLED_ENDPOINT)
            rules = [
                {
                    "source_labels": ["__meta_kubernetes_pod_phase"],
                    "regex": "(Failed|Succeeded)",
                    "action": "drop",
                }
            ]
            for key, value in sorted(selector.get("matchLabels", {}).items()):
                name = label_name(key)
                rules.append(
                    {
                        "source_labels": [
                            f"__meta_kubernetes_pod_label_{name}",
                            f"__meta_kubernetes_pod_labelpresent_{name}",
                        ],
                        "regex": f"({re.escape(value)});true",
                        "action": "keep",
                    }
                )
            rules.append(
                {
                    "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                    "regex": ep["port"],
                    "action": "keep",
                }
            )
            for meta_label, target in (
                ("__meta_kubernetes_namespace", "namespace"),
                ("__meta_kubernetes_pod_container_name", "container"),
                ("__meta_kubernetes_pod_name", "pod"),
            ):
                rules.append({"source_labels": [meta_label], "target_label": target})
            rules.append({"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"})
            rules.extend(relabeling(r) for r in ep.get("relabelings", []))
            out.append(
                {
                    "job_name": f"podMonitor/{meta['namespace']}/{meta['name']}/{i}",
                    "scrape_interval": interval or ep.get("interval", "30s"),
                    "metrics_path": ep.get("path", "/metrics"),
                    "kubernetes_sd_configs": [sd],
                    "relabel_configs": rules,
                }
            )
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    found = jobs(yaml.safe_load_all(sys.stdin), sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)
    if not found:
        sys.exit("podmonitor_scrape: no PodMonitor in the input")
    sys.stdout.write(yaml.safe_dump(found, sort_keys=False))


if __name__ == "__main__":
    main()
