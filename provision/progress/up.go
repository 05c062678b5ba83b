package progress

import "fmt"

// The events of "lvslab up" outside its wait and configure steps.

// UpStarted: up begins on a lab file.
type UpStarted struct {
	Lab      string `json:"lab"`
	File     string `json:"file"`
	Networks int    `json:"networks"`
	Nodes    int    `json:"nodes"`
}

// StepStarted: a step of up begins.
type StepStarted struct {
	Step string `json:"step"`
}

// StepDone: a step of up ended well.
type StepDone struct {
	Step    string   `json:"step"`
	Elapsed Duration `json:"seconds"`
}

// StepFailed: a step of up failed (up's error, printed at its end, says
// the rest).
type StepFailed struct {
	Step    string   `json:"step"`
	Elapsed Duration `json:"seconds"`
	Error   string   `json:"error"`
}

// ImageChosen: the lab's image is found and the VMs' accelerator chosen.
type ImageChosen struct {
	Name       string `json:"name"`
	Disk       string `json:"disk"`
	DirectBoot bool   `json:"direct_boot"` // else the image's own bootloader
	// Seeding is how a new VM of the image gets lvslab's access: "lvslab"
	// (its first-boot agent), "cloud-init" or "console".
	Seeding string `json:"seeding,omitempty"`
	KVM     bool   `json:"kvm"` // else TCG emulation
}

// NetworkCreated: up made a libvirt network (Detail: the management
// subnet, or what the host has on a lab network).
type NetworkCreated struct {
	Name   string `json:"name"`
	Bridge string `json:"bridge"`
	Detail string `json:"detail"`
	Mgmt   bool   `json:"mgmt"`
}

// MemoryKept: a reused VM has another memory size than the lab file says.
type MemoryKept struct {
	Domain string `json:"domain"`
	MiB    int    `json:"mib"`
	Want   int    `json:"want_mib"`
}

// ImageUploading: the image goes into the pool of a remote host.
type ImageUploading struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pool    string `json:"pool"`
	Host    string `json:"host"`
}

// ImageUploaded: the upload ended.
type ImageUploaded struct {
	Files   int      `json:"files"`
	Bytes   int64    `json:"bytes"`
	Elapsed Duration `json:"seconds"`
}

// ImageInPool: the remote host's pool holds the image already.
type ImageInPool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pool    string `json:"pool"`
	Host    string `json:"host"`
}

func (e UpStarted) text() string {
	return fmt.Sprintf("lab %s from %s: %d networks, %d nodes\n", e.Lab, e.File, e.Networks, e.Nodes)
}

func (StepStarted) text() string { return "" }

func (e StepDone) text() string {
	return fmt.Sprintf("  %-10s done in %s\n", e.Step, e.Elapsed.round())
}

func (StepFailed) text() string { return "" }

func (e ImageChosen) text() string {
	boot := "its own bootloader"
	if e.DirectBoot {
		boot = "direct kernel boot"
	}
	if e.Seeding != "" {
		boot += ", seeded by " + e.Seeding
	}
	accel := "TCG emulation"
	if e.KVM {
		accel = "KVM"
	}
	return fmt.Sprintf("  image %s (%s), %s, %s\n", e.Name, e.Disk, boot, accel)
}

// What names the network as up's messages do: "network NAME (bridge
// BRIDGE, DETAIL)".
func (e NetworkCreated) What() string {
	what := "network"
	if e.Mgmt {
		what = "management network"
	}
	return fmt.Sprintf("%s %s (bridge %s, %s)", what, e.Name, e.Bridge, e.Detail)
}

func (e NetworkCreated) text() string { return "  " + e.What() + "\n" }

func (e MemoryKept) text() string {
	return fmt.Sprintf("  note: %s has %d MiB, the lab file says %d MiB; kept (\"lvslab down\" then \"up\" applies it)\n", e.Domain, e.MiB, e.Want)
}

func (e ImageUploading) text() string {
	return fmt.Sprintf("  uploading image %s (version %s) to pool %s on %s\n", e.Name, e.Version, e.Pool, e.Host)
}

func (e ImageUploaded) text() string {
	secs := e.Elapsed.D().Seconds()
	mib := float64(e.Bytes) / (1 << 20)
	return fmt.Sprintf("  uploaded %d files, %.0f MiB in %.1f s (%.0f MiB/s)\n", e.Files, mib, secs, mib/max(secs, 0.001))
}

func (e ImageInPool) text() string {
	return fmt.Sprintf("  image %s (version %s) already in pool %s on %s: nothing to upload\n", e.Name, e.Version, e.Pool, e.Host)
}
