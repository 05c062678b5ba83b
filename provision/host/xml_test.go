package host

import (
	"net/netip"

	"github.com/lvslab/lvslab/topology"
)

// withClassroomHosts gives every lab network the classroom's host address,
// .254.
func withClassroomHosts(lab *topology.Lab) *topology.Lab {
	for _, nw := range lab.Networks {
		a := nw.CIDR.Addr().As4()
		a[3] = 254
		nw.Host = netip.AddrFrom4(a)
	}
	return lab
}
