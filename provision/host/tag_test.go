package host

import "testing"

func TestTagRoundTrip(t *testing.T) {
	tag := Tag{Name: "tedu", Node: "web1", Role: "web", File: `/tmp/a "b" & <c>.yaml`, InstanceID: "tedu-web1-0011", Mgmt: "10.250.0.12"}
	got, ok := ParseTag("\n  " + tag.Marshal() + "\n")
	if !ok {
		t.Fatalf("tag not found in %s", tag.Marshal())
	}
	got.XMLName = tag.XMLName
	if got != tag {
		t.Errorf("round trip: got %+v, want %+v", got, tag)
	}
	if _, ok := ParseTag(`<other:lab xmlns:other="https://example.com/x" name="tedu"/>`); ok {
		t.Error("a tag of another namespace was taken for lvslab's")
	}
	if _, ok := ParseTag(""); ok {
		t.Error("empty metadata has a tag")
	}
}
