package paths

import (
	"strings"

	"github.com/lvslab/lvslab/topology"
)

// DefaultPool is the libvirt storage pool (a folder) that holds every lab's
// disks; it is shared by all labs and never removed by "down".
const DefaultPool = "lvslab"

// DomainName is the libvirt name of a node's VM: "<lab>-<node>".
func DomainName(lab, node string) string { return lab + "-" + node }

// NetworkName is the libvirt name of a lab network: "<lab>-<network>".
func NetworkName(lab, network string) string { return lab + "-" + network }

// VolumePrefix begins the names of a lab's volumes. They use "_", which neither lab nor node names may contain, so the
// prefix "<lab>_" of one lab never matches the volumes of another (the names
// "tedu-x"+"web1" and "tedu"+"x-web1" would both give "tedu-x-web1").
func VolumePrefix(lab string) string { return lab + "_" }

// OverlayVolume is the name of a node's disk: a qcow2 linked clone of the image.
func OverlayVolume(lab, node string) string { return VolumePrefix(lab) + node + ".qcow2" }

// SeedVolume is the name of a node's NoCloud seed volume (ISO 9660, "cidata").
func SeedVolume(lab, node string) string { return VolumePrefix(lab) + node + ".seed.iso" }

// VolumeOwner splits a volume name made by OverlayVolume or SeedVolume into
// its lab and node; ok is false for names lvslab did not make.
func VolumeOwner(name string) (lab, node string, ok bool) {
	base, found := strings.CutSuffix(name, ".qcow2")
	if !found {
		if base, found = strings.CutSuffix(name, ".seed.iso"); !found {
			return "", "", false
		}
	}
	lab, node, found = strings.Cut(base, "_")
	if !found || lab == "" || node == "" || strings.Contains(node, "_") {
		return "", "", false
	}
	return lab, node, true
}

// BridgeName is the host bridge of a lab network (topology.Lab.Bridge: the
// file's own name, else one derived from the lab's name and the network's
// index, e.g. "lv1a2b3c4d-0").
func BridgeName(lab *topology.Lab, nw *topology.Network) string { return lab.Bridge(nw) }

// MgmtNetworkName is the libvirt name of a lab's management network; "_"
// appears in no lab or network name, so it never meets a lab network.
func MgmtNetworkName(lab string) string { return lab + "_mgmt" }

// MgmtBridge is the host bridge of the management network.
func MgmtBridge(lab string) string { return topology.DerivedBridge(lab, 0)[:len("lv")+8] + "-m" }
