package catalog

import (
	"fmt"
	"strings"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/topology"
)

// UDP responders of UDP services: one unit a port on each real server.
const udpUnitDir = "/etc/systemd/system"

// UDPUnit is the responder's unit for a port: lvslab-udp-53.service.
func UDPUnit(port uint16) string { return fmt.Sprintf("lvslab-udp-%d.service", port) }

// udpSteps make a real server answer its UDP services' datagrams with the
// page it serves over HTTP (page is the page file's path), and remove the
// responders of ports the lab no longer has.
func udpSteps(st *roles.NodeState, page string) []Step {
	var wanted []string
	var steps []Step
	for _, u := range st.Web.UDP {
		unit := UDPUnit(u.Port)
		data := struct {
			Port uint16
			Bind string
			Page string
		}{u.Port, "", page}
		where := "every address"
		if u.Bind.IsValid() {
			data.Bind, where = u.Bind.String(), "the VIP "+u.Bind.String()
		}
		f := File{Path: udpUnitDir + "/" + unit, Mode: 0o644, Content: render("lvslab-udp.service.tmpl", data)}
		wanted = append(wanted, f.Path)
		steps = append(steps, Step{
			Name:    "udp " + fmt.Sprint(u.Port),
			Comment: fmt.Sprintf("a UDP responder (socat) on %s port %d: each datagram is answered with the page", where, u.Port),
			File:    &f,
			Check:   "systemctl is-enabled -q " + unit + " && systemctl is-active -q " + unit + " && " + listening("udp", u.Port),
			Apply:   []string{"systemctl daemon-reload", "systemctl enable " + unit, "systemctl restart " + unit},
			Kind:    KindService,
		})
	}
	keep := strings.Join(wanted, " ")
	stale := Step{
		Name:    "no stale udp",
		Comment: "no UDP responder of a port this lab does not have (a VM re-used from another lab)",
		// The shell's glob finds them as ls did (a dangling link too),
		// counted against the wanted ones in any order.
		Check: `lvslab_n=0; for lvslab_f in ` + udpUnitDir + `/lvslab-udp-*.service; do if [ -e "$lvslab_f" ] || [ -L "$lvslab_f" ]; then case " ` + keep + ` " in *" $lvslab_f "*) lvslab_n=$((lvslab_n + 1)) ;; *) lvslab_n=-1; break ;; esac; fi; done; [ "$lvslab_n" = ` + fmt.Sprint(len(wanted)) + ` ]`,
		Apply: []string{`for f in ` + udpUnitDir + `/lvslab-udp-*.service; do case " ` + keep + ` " in *" $f "*) ;; *) [ ! -e "$f" ] || { systemctl disable --now "${f##*/}"; rm -f "$f"; } ;; esac; done`,
			"systemctl daemon-reload"},
	}
	if st.Role != topology.RoleWeb {
		return nil
	}
	return append(steps, stale)
}
