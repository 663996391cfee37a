package controller

import (
	"fmt"
	"reflect"
)

// containsAll reports the first value of want that got does not hold: got may
// have more (server-side defaults), never less nor different.
func containsAll(got, want any) error {
	return containsAt("spec", got, want)
}

func containsAt(path string, got, want any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", path, got)
		}
		for k, wv := range w {
			if err := containsAt(path+"."+k, g[k], wv); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: want %d items, got %v", path, len(w), got)
		}
		for i := range w {
			if err := containsAt(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); err != nil {
				return err
			}
		}
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) && !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s: want %v, got %v", path, want, got)
		}
	}
	return nil
}
