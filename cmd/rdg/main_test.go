package main

import (
	"strings"
	"testing"
)

func TestGCFloorFlagRejectsNegative(t *testing.T) {
	root := newRoot()
	root.SetArgs([]string{"--gc-floor-mib", "-1", "job", "check", "does-not-matter.yaml"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "--gc-floor-mib -1") {
		t.Fatalf("got %v, want an error naming --gc-floor-mib", err)
	}
}
