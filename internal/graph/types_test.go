package graph

import (
	"context"
	"slices"
	"testing"
)

func TestEditDistance(t *testing.T) {
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
		if got := EditDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := EditDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"episode_of", "has_profile", "played", "used", "watched"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"watchd", []string{"watched", "played", "used", "episode_of", "has_profile"}},
		{"uses", []string{"used", "played", "watched", "episode_of", "has_profile"}},
		{"profile", []string{"has_profile", "played", "used", "watched", "episode_of"}},
	} {
		got := Closest(tc.name, known)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if !slices.IsSorted(known) {
		t.Error("Closest changed its argument")
	}
}

func TestKnownTypesWith(t *testing.T) {
	var k *KnownTypes
	if k.Node("a") || k.Edge("a") || k.NodeTypes() != nil {
		t.Error("a nil set knows something")
	}
	k = NewKnownTypes([]string{"device", "account", "device"}, []string{"used"})
	if !slices.Equal(k.NodeTypes(), []string{"account", "device"}) || !slices.Equal(k.EdgeTypes(), []string{"used"}) {
		t.Errorf("types %q %q", k.NodeTypes(), k.EdgeTypes())
	}
	if k.With([]string{"account"}, []string{"used"}) != k {
		t.Error("With of known types made a new set")
	}
	k2 := k.With([]string{"title"}, nil)
	if !k2.Node("title") || k.Node("title") || !k2.Edge("used") || !k2.Node("account") {
		t.Errorf("With: old %q, new %q %q", k.NodeTypes(), k2.NodeTypes(), k2.EdgeTypes())
	}
}

func TestExists(t *testing.T) {
	m := seedMem()
	m.edge("watched", "profile:p1", "title:no_record", 10, nil)
	ctx := context.Background()
	for ref, want := range map[string]bool{
		"account:a1":      true,  // record and edges
		"title:no_record": true,  // only an edge refers to it
		"account:a9":      false, // nothing
		"device:a1":       false, // an id of another type
	} {
		got, err := Exists(ctx, m, mustRef(ref))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Exists(%s) = %v, want %v", ref, got, want)
		}
	}
}
