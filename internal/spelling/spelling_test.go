package spelling

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"used", "used", 0},
		{"", "used", 4},
		{"usd", "used", 1}, // insertion
		{"watchd", "watched", 1},
		{"uesd", "used", 1},     // adjacent swap
		{"device", "devise", 1}, // substitution
		{"title", "episode", 5},
		{"has_profile", "profile", 4},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestByCloseness(t *testing.T) {
	known := []string{"episode_of", "has_profile", "played", "used", "watched"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"watchd", []string{"watched", "played", "used", "episode_of", "has_profile"}},
		{"uses", []string{"used", "played", "watched", "episode_of", "has_profile"}},
		{"profile", []string{"has_profile", "played", "used", "watched", "episode_of"}},
	} {
		got := ByCloseness(tc.name, known)
		if !slices.Equal(got, tc.want) {
			t.Errorf("ByCloseness(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if !slices.IsSorted(known) {
		t.Error("ByCloseness changed its argument")
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"cleanup.policy", "retention.bytes", "retention.ms"}
	for name, want := range map[string]string{
		"retension.ms":  "retention.ms",
		"cleanup.polcy": "cleanup.policy",
		"x":             "",
		"segment.bytes": "",
		"retention.ms":  "retention.ms",
	} {
		if got := Suggest(name, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
	if got := Suggest("a", nil); got != "" {
		t.Errorf("Suggest with nothing known = %q", got)
	}
}
