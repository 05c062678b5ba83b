package catalog

import (
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/keepalived"
	"github.com/lvslab/lvslab/topology/ipvs"
)

// KeepalivedConf is where keepalived reads its configuration.
const KeepalivedConf = keepalived.Path

// keepalivedUnit is keepalived's systemd unit on both families.
const keepalivedUnit = "keepalived"

// reloadKeepalived makes a running keepalived read its file again (a
// master re-adds its VIPs); a stopped one is left to the service step.
const reloadKeepalived = "! systemctl is-active -q " + keepalivedUnit + " || systemctl reload " + keepalivedUnit

// keepalivedOffStep: a node that runs no keepalived in this lab has none
// running, none enabled and no keepalived.conf (converging back from a
// keepalived lab to tedu-dr): stopping keepalived takes its VIP and its
// IPVS rules with it, so that the lab's own alias and rules come back in
// the steps after. nil for a node that runs keepalived.
func keepalivedOffStep(st *roles.NodeState) *Step {
	if st.Keepalived != "" {
		return nil
	}
	return &Step{
		Name:    "keepalived off",
		Comment: "this lab runs no keepalived here: stopped, disabled, " + KeepalivedConf + " removed (stopping it removes its VIP and its IPVS rules)",
		Check:   "! systemctl is-enabled -q " + keepalivedUnit + " 2>/dev/null && ! systemctl is-active -q " + keepalivedUnit + " && [ ! -e " + KeepalivedConf + " ]",
		Apply:   []string{"systemctl disable --now " + keepalivedUnit + " 2>/dev/null || :", "rm -f " + KeepalivedConf},
	}
}

// keepalivedSteps run keepalived on a node whose lab says so: on a
// director the table is keepalived's, so lvslab's own IPVS rules neither
// load at boot (the boot unit would clear keepalived's table) nor are
// applied; the hand rules of an earlier lab go once, before keepalived
// first starts; then keepalived.conf, tested by keepalived -t and
// reloaded only when it changed, and the service enabled and running.
func keepalivedSteps(st *roles.NodeState, f family) []Step {
	var out []Step
	if st.KeepalivedIPVS() {
		out = append(out, f.ipvsBootOff(), Step{
			Name:    "no hand rules",
			Comment: "keepalived programs the IPVS table itself: rules left by hand or by an earlier lab go before it first starts (the student's ipvsadm -C); while keepalived runs its table is left alone",
			Check:   "systemctl is-active -q " + keepalivedUnit + ` || [ -z "$(` + ipvs.SaveCommand + `)" ]`,
			Apply:   []string{ipvs.ClearCommand},
		})
	}
	out = append(out, Step{
		Name:    "keepalived.conf",
		Comment: "the VRRP instance" + map[bool]string{true: ", virtual servers and health checks", false: ""}[st.KeepalivedIPVS()] + " of this node; keepalived checks it (-t) and reloads only when it changes",
		File:    &File{Path: KeepalivedConf, Mode: 0o644, Content: st.Keepalived},
		Apply:   []string{"keepalived -t -f " + KeepalivedConf, reloadKeepalived},
	})
	svc := serviceStep(keepalivedUnit, "", "enabled (it comes back at boot) and running: VRRP"+map[bool]string{true: ", the virtual servers and their health checks", false: ""}[st.KeepalivedIPVS()])
	// systemctl start returns once keepalived runs: nothing to wait for
	// (and a real server's one KindService step stays its web server's).
	svc.Kind = KindCommand
	out = append(out, svc)
	return out
}

// debianIPVSBootOff: lvslab's boot unit of the saved rules disabled, the
// unit and the rules removed.
func debianIPVSBootOff() Step {
	return Step{
		Name:    "ipvs boot unit off",
		Comment: "keepalived programs the table at boot: " + IPVSUnit + " (it clears the table, then restores " + DebianRulesFile + ") disabled and removed",
		Check:   "! systemctl is-enabled -q " + IPVSUnit + " 2>/dev/null && [ ! -e " + IPVSUnitFile + " ] && [ ! -e " + DebianRulesFile + " ]",
		Apply:   []string{"systemctl disable " + IPVSUnit + " 2>/dev/null || :", "rm -f " + IPVSUnitFile + " " + DebianRulesFile, "systemctl daemon-reload"},
	}
}

// rhelIPVSBootOff: the ipvsadm service no longer restores at boot; it is
// not stopped (stopping it clears the table, keepalived's by then).
func rhelIPVSBootOff() Step {
	return Step{
		Name:    "ipvs boot off",
		Comment: "keepalived programs the table at boot: ipvsadm.service disabled (not stopped: that clears the table) and " + RHELRulesFile + " removed",
		Check:   "! systemctl is-enabled -q ipvsadm 2>/dev/null && [ ! -e " + RHELRulesFile + " ]",
		Apply:   []string{"systemctl disable ipvsadm 2>/dev/null || :", "rm -f " + RHELRulesFile},
	}
}

// afterNetwork are the commands that follow a network manager's change on
// a keepalived node: networkd and NetworkManager drop the addresses they
// did not add, keepalived's VIP among them, and a reload makes the master
// add it again.
func afterNetwork(st *roles.NodeState) []string {
	if st.Keepalived == "" {
		return nil
	}
	return []string{reloadKeepalived}
}
