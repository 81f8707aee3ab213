# shellcheck shell=bash
# shellcheck disable=SC2034 # used by the scripts that source this
# The oldest Kubernetes release the Queue CRD (crds/queue.yaml) works on: 1.31, where the
# CRD's selectableFields are on by default (README.md here says why), as the newest 1.31 patch
# that the Go module proxy serves.
MIN_K8S_DEFAULT="v1.31.14"
