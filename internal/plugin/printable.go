package plugin

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// printableClient is the client every verb reads the cluster through: each
// object it returns (a Get's, a List's items, a watch's events) has its
// text made printable (see printable) before any verb shows it, but a
// ConfigMap, whose data is checked against a digest first (a whole plan,
// made printable once decoded: see fullPlan). Most of
// that text is the authors': the statements and changes of a plan, a
// script's comments, lint messages that quote it, condition messages.
// Written as it is, a control sequence in it would drive the reviewer's
// terminal: move the cursor up, erase the lines that show an UPDATE, and
// print the plan the author wants read, before the reviewer confirms the
// hash of the other. Writes (approve's patch) are computed between two
// printable copies, so they carry only what the verb changed.
type printableClient struct{ client.WithWatch }

func (c printableClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.WithWatch.Get(ctx, key, obj, opts...)
	if _, verified := obj.(*corev1.ConfigMap); err == nil && !verified {
		printable(obj)
	}
	return err
}

func (c printableClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	err := c.WithWatch.List(ctx, list, opts...)
	if err == nil {
		printable(list)
	}
	return err
}

func (c printableClient) Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	w, err := c.WithWatch.Watch(ctx, list, opts...)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		printable(e.Object)
		return e, true
	}), nil
}

// printable rewrites, in place, every string v holds (through pointers,
// structs, slices, arrays and map values) with escapeControls.
func printable(v any) {
	printableValue(reflect.ValueOf(v))
}

func printableValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			printableValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				printableValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes (a Secret's data) are never printed as text
		}
		for i := range v.Len() {
			printableValue(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			value := reflect.New(iter.Value().Type()).Elem()
			value.Set(iter.Value())
			printableValue(value)
			v.SetMapIndex(iter.Key(), value)
		}
	case reflect.String:
		if v.CanSet() {
			s := v.String()
			if e := escapeControls(s); e != s {
				v.SetString(e)
			}
		}
	}
}

// escapeControls writes what a terminal would act on as text: C0 and C1
// controls but newline and tab (ESC, CR, backspace, and U+009B, which some
// terminals take for ESC [), DEL, the marks and overrides that reorder
// text right to left (so that what shows is not what runs), and bytes
// that are not UTF-8, as \xNN or \uNNNN.
func escapeControls(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				fmt.Fprintf(&b, `\x%02x`, s[i])
				continue
			}
		}
		switch {
		case drivesTerminal(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case drivesTerminal(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// drivesTerminal: the runes escapeControls writes as text.
func drivesTerminal(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return true
	case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
		return true
	}
	return false
}
