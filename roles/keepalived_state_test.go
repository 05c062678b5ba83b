package roles_test

import (
	"testing"

	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// Under keepalived the VIP is keepalived's to add: no director gets it as
// an address of the lab; both hold the service's IPVS table (keepalived
// programs it on the backup too). A VRRP-only service's routers serve its
// port; the lab's idle director keeps an empty table.
func TestKeepalivedDesiredState(t *testing.T) {
	dr := rolestest.Lab(t, "tedu-keepalived-dr")
	lvs1, lvs2 := rolestest.State(t, dr, "lvs1"), rolestest.State(t, dr, "lvs2")
	for _, st := range []*roles.NodeState{lvs1, lvs2} {
		if len(st.Aliases) != 0 {
			t.Errorf("%s: VIP as a lab address: %v", st.Name, st.Aliases)
		}
		if len(st.IPVS) != 1 || len(st.IPVS[0].Destinations) != 2 {
			t.Errorf("%s: IPVS %v", st.Name, st.IPVS)
		}
	}
	rolestest.Eq(t, "backup's table", lvs2.IPVS, lvs1.IPVS)
	web1 := rolestest.State(t, dr, "web1")
	if len(web1.Aliases) != 1 || web1.Aliases[0].Label != "lo:0" || web1.Aliases[0].Address.String() != "192.168.4.15/32" {
		t.Errorf("DR real server keeps the VIP on lo:0: %v", web1.Aliases)
	}

	web := rolestest.Lab(t, "tedu-keepalived-web")
	for _, name := range []string{"web1", "web2"} {
		st := rolestest.State(t, web, name)
		rolestest.Eq(t, name+" ports", st.Web.Ports, []uint16{80})
		if len(st.Aliases) != 0 || len(st.Sysctls) != 0 {
			t.Errorf("%s: no DR settings in a VRRP-only lab: %v %v", name, st.Aliases, st.Sysctls)
		}
	}
	if idle := rolestest.State(t, web, "lvs1"); idle.IPVS == nil || len(idle.IPVS) != 0 || len(idle.Aliases) != 0 {
		t.Errorf("idle director: IPVS %#v, aliases %v", idle.IPVS, idle.Aliases)
	}
}
