// Command cri is a small CRI client for the engine tests (crictl is not
// packaged in Debian 12): it drives containerd's CRI plugin as kubelet
// would, so a RuntimeClass handler configured in containerd's config.toml
// can be tested. It is its own module so that kan's go.mod does not carry
// gRPC and the CRI API.
//
//	cri -a SOCK runp HANDLER NAME LOGDIR   prints the pod sandbox id; its
//	                                       cgroup parent is -cgroup-parent
//	cri -a SOCK create POD IMAGE NAME CMD...  prints the container id; the
//	                                       container's seccomp profile is
//	                                       -seccomp (runtime/default, the
//	                                       default, or unconfined), its
//	                                       resources -memory, -cpu-shares,
//	                                       -cpu-quota
//	cri -a SOCK start ID
//	cri -a SOCK exec ID CMD...             prints stdout/stderr, exits with the exit code
//	cri -a SOCK inspect ID                 prints "STATE EXITCODE"
//	cri -a SOCK stop ID TIMEOUT
//	cri -a SOCK rm ID
//	cri -a SOCK stopp POD
//	cri -a SOCK rmp POD
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	addr := flag.String("a", "", "containerd's socket")
	seccomp := flag.String("seccomp", "runtime/default", "the container's seccomp profile: runtime/default or unconfined")
	// What kubelet sends with its systemd cgroup driver: the pod's
	// slice as the sandbox's cgroup parent, and container resources.
	flag.StringVar(&cgroupParent, "cgroup-parent", "", "runp: the pod's cgroup parent (kubelet's systemd driver: kubepods-burstable-pod<uid>.slice)")
	memory := flag.Int64("memory", 0, "create: the container's memory limit in bytes")
	cpuShares := flag.Int64("cpu-shares", 0, "create: the container's CPU shares")
	cpuQuota := flag.Int64("cpu-quota", 0, "create: the container's CPU quota (µs per 100 ms)")
	flag.Parse()
	args := flag.Args()
	if *addr == "" || len(args) < 2 {
		fail("usage: cri -a SOCK COMMAND ARGS...")
	}
	conn, err := grpc.NewClient("unix://"+*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err.Error())
	}
	rs := cri.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	switch cmd, a := args[0], args[1:]; cmd {
	case "runp":
		need(a, 3)
		r, err := rs.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: podConfig(a[1], a[2]), RuntimeHandler: a[0]})
		check(err)
		fmt.Println(r.PodSandboxId)
	case "create":
		need(a, 4)
		st, err := rs.PodSandboxStatus(ctx, &cri.PodSandboxStatusRequest{PodSandboxId: a[0]})
		check(err)
		md := st.GetStatus().GetMetadata()
		r, err := rs.CreateContainer(ctx, &cri.CreateContainerRequest{
			PodSandboxId:  a[0],
			SandboxConfig: podConfig(md.GetName(), st.GetStatus().GetAnnotations()["logdir"]),
			Config: &cri.ContainerConfig{
				Metadata: &cri.ContainerMetadata{Name: a[2]},
				Image:    &cri.ImageSpec{Image: a[1]},
				Command:  a[3:],
				LogPath:  a[2] + ".log",
				Linux: &cri.LinuxContainerConfig{SecurityContext: &cri.LinuxContainerSecurityContext{
					Seccomp: seccompProfile(*seccomp),
				}, Resources: resources(*memory, *cpuShares, *cpuQuota)},
			},
		})
		check(err)
		fmt.Println(r.ContainerId)
	case "start":
		_, err := rs.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: a[0]})
		check(err)
	case "exec":
		need(a, 2)
		r, err := rs.ExecSync(ctx, &cri.ExecSyncRequest{ContainerId: a[0], Cmd: a[1:], Timeout: 30})
		check(err)
		os.Stdout.Write(r.Stdout)
		os.Stderr.Write(r.Stderr)
		os.Exit(int(r.ExitCode))
	case "inspect":
		r, err := rs.ContainerStatus(ctx, &cri.ContainerStatusRequest{ContainerId: a[0]})
		check(err)
		fmt.Println(r.GetStatus().GetState(), r.GetStatus().GetExitCode())
	case "stop":
		need(a, 2)
		t, err := strconv.ParseInt(a[1], 10, 64)
		check(err)
		_, err = rs.StopContainer(ctx, &cri.StopContainerRequest{ContainerId: a[0], Timeout: t})
		check(err)
	case "rm":
		_, err := rs.RemoveContainer(ctx, &cri.RemoveContainerRequest{ContainerId: a[0]})
		check(err)
	case "stopp":
		_, err := rs.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: a[0]})
		check(err)
	case "rmp":
		_, err := rs.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: a[0]})
		check(err)
	default:
		fail("unknown command " + cmd)
	}
}

var cgroupParent string

// resources are a container's, as kubelet gives them (nil for none).
func resources(memory, shares, quota int64) *cri.LinuxContainerResources {
	if memory == 0 && shares == 0 && quota == 0 {
		return nil
	}
	r := &cri.LinuxContainerResources{MemoryLimitInBytes: memory, CpuShares: shares, CpuQuota: quota}
	if quota != 0 {
		r.CpuPeriod = 100000
	}
	return r
}

// seccompProfile is the CRI's form of a pod spec's seccompProfile.
func seccompProfile(name string) *cri.SecurityProfile {
	switch name {
	case "runtime/default":
		return &cri.SecurityProfile{ProfileType: cri.SecurityProfile_RuntimeDefault}
	case "unconfined":
		return &cri.SecurityProfile{ProfileType: cri.SecurityProfile_Unconfined}
	}
	fail("unknown seccomp profile " + name)
	return nil
}

// podConfig is the sandbox kubelet would ask for a pod with host
// networking (no CNI here): with the RuntimeDefault seccomp profile, which
// the kubelet gives every sandbox that is not privileged.
func podConfig(name, logDir string) *cri.PodSandboxConfig {
	return &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: name, Uid: "uid-" + name, Namespace: "default"},
		Annotations:  map[string]string{"logdir": logDir},
		LogDirectory: logDir,
		Linux: &cri.LinuxPodSandboxConfig{CgroupParent: cgroupParent, SecurityContext: &cri.LinuxSandboxSecurityContext{
			NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE},
			Seccomp:          seccompProfile("runtime/default"),
		}},
	}
}

func need(a []string, n int) {
	if len(a) < n {
		fail(fmt.Sprintf("want at least %d arguments, got %d", n, len(a)))
	}
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "cri:", msg)
	os.Exit(1)
}
