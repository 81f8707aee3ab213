// crisweep talks CRI to the platform's containerd and stops and removes every
// pod sandbox (and so every container) it holds, so that the CNI plugins tear
// down each pod's network the same way a kubelet would. Used by down.sh.
//
//	crisweep -endpoint unix:///path/containerd.sock [-list]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("endpoint", "", "CRI endpoint, unix:///path/to/containerd.sock")
	listOnly := flag.Bool("list", false, "only list pod sandboxes")
	timeout := flag.Duration("timeout", 2*time.Minute, "overall time limit")
	flag.Parse()
	if *endpoint == "" {
		fmt.Fprintln(os.Stderr, "crisweep: -endpoint is required")
		os.Exit(2)
	}
	if err := run(*endpoint, *listOnly, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "crisweep: %v\n", err)
		os.Exit(1)
	}
}

func run(endpoint string, listOnly bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect %s: %w", endpoint, err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)

	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list pod sandboxes: %w", err)
	}
	failed := 0
	for _, p := range pods.Items {
		name := p.Id
		if m := p.Metadata; m != nil {
			name = fmt.Sprintf("%s/%s (%.13s)", m.Namespace, m.Name, p.Id)
		}
		if listOnly {
			fmt.Printf("%s %s\n", name, p.State)
			continue
		}
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "crisweep: stop %s: %v\n", name, err)
			failed++
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			fmt.Fprintf(os.Stderr, "crisweep: remove %s: %v\n", name, err)
			failed++
			continue
		}
		fmt.Printf("removed pod sandbox %s\n", name)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d pod sandboxes not removed", failed, len(pods.Items))
	}
	return nil
}
