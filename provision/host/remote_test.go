package host

import "testing"

func TestParseRemote(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want *Remote
	}{
		{"qemu:///system", nil},
		{"test:///default", nil},
		{"qemu+ssh://root@10.0.0.2/system", &Remote{User: "root", Host: "10.0.0.2", Port: 22}},
		{"qemu+ssh://ann@hv1.example:2222/system?keyfile=/k/id&known_hosts=/k/kh&no_verify=1",
			&Remote{User: "ann", Host: "hv1.example", Port: 2222, KeyFile: "/k/id", KnownHosts: "/k/kh", NoVerify: true}},
		// qemu+tcp's port is libvirtd's, not SSH's.
		{"qemu+tcp://root@hv2:16509/system", &Remote{User: "root", Host: "hv2", Port: 22}},
	} {
		got, err := ParseRemote(tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		if tc.want != nil {
			tc.want.URI = tc.uri
		}
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("ParseRemote(%s) = %+v, want %+v", tc.uri, got, tc.want)
		}
	}
	r, _ := ParseRemote("qemu+ssh://root@10.0.0.2:2222/system")
	if r.Label() != "root@10.0.0.2:2222" || r.SSHAddr() != "10.0.0.2:2222" {
		t.Errorf("label %s, addr %s", r.Label(), r.SSHAddr())
	}
}
