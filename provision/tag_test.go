package provision

import "testing"

func TestTagRoundTrip(t *testing.T) {
	tag := Tag{Name: "tedu", Node: "web1", Role: "web", File: `/tmp/a "b" & <c>.yaml`, InstanceID: "tedu-web1-0011", Mgmt: "10.250.0.12"}
	got, ok := parseTag("\n  " + tag.marshal() + "\n")
	if !ok {
		t.Fatalf("tag not found in %s", tag.marshal())
	}
	got.XMLName = tag.XMLName
	if got != tag {
		t.Errorf("round trip: got %+v, want %+v", got, tag)
	}
	if _, ok := parseTag(`<other:lab xmlns:other="https://example.com/x" name="tedu"/>`); ok {
		t.Error("a tag of another namespace was taken for lvslab's")
	}
	if _, ok := parseTag(""); ok {
		t.Error("empty metadata has a tag")
	}
}
