package catalog

import (
	"slices"
	"strings"
	"testing"

	"github.com/lvslab/lvslab/labs"
	"github.com/lvslab/lvslab/roles"
	"github.com/lvslab/lvslab/roles/rolestest"
)

// A real server must ignore ARP for the VIP before the VIP is on its lo or
// tunl0, else the client may cache the real server's MAC: on every family.
func TestKernelSettingsBeforeVIPOnEveryFamily(t *testing.T) {
	for _, name := range labs.Names() {
		lab := rolestest.Lab(t, name)
		for _, osf := range OSFamilies {
			for _, st := range roles.Desired(lab) {
				steps := Steps(st, osf)
				sysctl := -1
				for i, s := range steps {
					if s.Name == "sysctl" {
						sysctl = i
					}
					if strings.HasPrefix(s.Name, "vip ") && (sysctl < 0 || sysctl > i) {
						t.Errorf("%s/%s on %s: step %d %q comes before the kernel settings", name, st.Name, osf, i+1, s.Name)
					}
				}
			}
		}
	}
}

// The references check the director's VIP with "ifconfig eth0:0": on RHEL
// the VIP must carry that label, which nmcli cannot give.
func TestRHELDirectorVIPCarriesItsLabel(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-dr")
	st := rolestest.State(t, lab, "lvs1")
	steps := Steps(st, RHEL)
	var labelled bool
	for _, s := range steps {
		for _, c := range s.Apply {
			if strings.Contains(c, "nmcli") && strings.Contains(c, "192.168.4.15") {
				t.Errorf("step %q gives the VIP through nmcli, without its label: %s", s.Name, c)
			}
		}
		if s.File != nil && strings.Contains(s.File.Content, "ip addr replace 192.168.4.15/24 dev eth0 label eth0:0") {
			labelled = true
			if !strings.Contains(s.Check, "label eth0:0") {
				t.Errorf("step %q does not check the label: %s", s.Name, s.Check)
			}
		}
	}
	if !labelled {
		t.Errorf("no step puts 192.168.4.15/24 on eth0 as eth0:0: %v", stepNames(steps))
	}
}

// What the classroom relaxes must stay relaxed after a reboot, and a drill's
// ipvsadm -d must not be saved into the rules by ipvsadm.service's stop.
func TestRHELRelaxationsSurviveReboot(t *testing.T) {
	lab := rolestest.Lab(t, "tedu-nat")
	steps := Steps(rolestest.State(t, lab, "lvs1"), RHEL)
	fw := findStep(t, steps, "firewalld")
	if !strings.Contains(fw.Check, "is-enabled") {
		t.Errorf("firewalld check accepts an enabled firewalld: %s", fw.Check)
	}
	se := findStep(t, steps, "selinux")
	if !strings.Contains(se.Check, "/etc/selinux/config") {
		t.Errorf("selinux check ignores the boot-time setting: %s", se.Check)
	}
	var dropIn bool
	for _, s := range steps {
		if s.File != nil && strings.HasPrefix(s.File.Path, "/etc/systemd/system/ipvsadm.service.d/") {
			dropIn = strings.Contains(s.File.Content, "ExecStop=\n") && !strings.Contains(s.File.Content, "ipvsadm-save")
		}
	}
	if !dropIn {
		t.Errorf("nothing keeps ipvsadm.service from saving the table on stop: %v", stepNames(steps))
	}
}

// dr-nginx's real servers run nginx (reference 003): its package, its own
// ports file, the page where the family's default server serves port 80,
// and apache off first (both may be installed; only one holds port 80).
func TestNginxRealServers(t *testing.T) {
	lab := rolestest.Lab(t, "dr-nginx")
	for _, osf := range OSFamilies {
		steps := Steps(rolestest.State(t, lab, "srv03"), osf)
		apache, root := "apache2", "/var/www/html"
		if osf == RHEL {
			apache, root = "httpd", "/usr/share/nginx/html"
		}
		names := stepNames(steps)
		off, ports, svc := slices.Index(names, apache+" off"), slices.Index(names, "nginx ports"), slices.Index(names, "nginx")
		if off < 0 || ports < off || svc < ports {
			t.Errorf("%s: want %s off, nginx ports, nginx in order: %v", osf, apache, names)
			continue
		}
		if f := steps[ports].File; f.Path != NginxConfFile || steps[ports].Apply[0] != "systemctl restart nginx" {
			t.Errorf("%s: nginx ports step: %+v", osf, steps[ports])
		}
		if p := findStep(t, steps, "index.html").File.Path; p != root+"/index.html" {
			t.Errorf("%s: page at %s, want under %s", osf, p, root)
		}
		if !strings.Contains(strings.Join(findStep(t, steps, "packages").Apply, " "), " nginx") {
			t.Errorf("%s: packages: %v", osf, findStep(t, steps, "packages").Apply)
		}
	}
}
