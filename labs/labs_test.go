package labs

import "testing"

// Every embedded lab validates: the rules that refuse a user's lab (a DR
// real server with no route back to the client, ...) hold for the labs
// lvslab ships.
func TestEveryEmbeddedLabValidates(t *testing.T) {
	if len(Names()) < 10 {
		t.Fatalf("only %d embedded labs", len(Names()))
	}
	for _, name := range Names() {
		if _, err := Load(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
