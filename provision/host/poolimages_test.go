package host

import "testing"

func TestParseImageVolume(t *testing.T) {
	for vol, want := range map[string][2]string{
		"image-debian-12-0123456789ab.qcow2":   {"debian-12", "0123456789ab"},
		"image-debian-12-0123456789ab.vmlinuz": {"debian-12", "0123456789ab"},
		"image-classroom-abc.ready":            {"classroom", "abc"},
		"image-mine-1.img":                     {"mine", "1"},
		"tedu_web1.qcow2":                      {},
		"image-debian-12-0123.iso":             {},
		"image--abc.qcow2":                     {},
		"image-abc.qcow2":                      {},
	} {
		name, version, ok := parseImageVolume(vol)
		if ok != (want[0] != "") || name != want[0] || version != want[1] {
			t.Errorf("%s: %q %q %v, want %q %q", vol, name, version, ok, want[0], want[1])
		}
	}
}
