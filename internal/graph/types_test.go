package graph

import (
	"context"
	"slices"
	"testing"
)

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
