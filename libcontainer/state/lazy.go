package state

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Lazy holds a JSON value of type T that is decoded only when a command
// asks for it.
//
// A container's state carries its whole config and its resources, but most
// commands (state, kill, list, pause) never read them, and decoding them is
// not free: on the first decode into a type, encoding/json builds encoders
// for every type reachable from it, which for specs.Spec takes about 2 ms
// in a fresh kan process. Kept as raw JSON, they cost a copy; saving the
// state again writes the same bytes back.
type Lazy[T any] struct {
	raw json.RawMessage
}

// LazyOf encodes v, or gives nil for a nil v (absent from the state). It
// is for values that always encode, as the specs types do: it panics
// otherwise.
func LazyOf[T any](v *T) *Lazy[T] {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return &Lazy[T]{raw: raw}
}

// LazyRaw holds raw, the JSON of a T as it was read; nil for raw that is
// empty or null.
func LazyRaw[T any](raw []byte) *Lazy[T] {
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return nil
	}
	return &Lazy[T]{raw: raw}
}

// Get decodes the whole value. A nil Lazy gives nil.
func (l *Lazy[T]) Get() (*T, error) {
	if l == nil {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(l.raw, v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeInto decodes the value into v, a type with only the fields the
// caller needs (JSON ignores the others), which is cheaper than Get.
func (l *Lazy[T]) DecodeInto(v any) error {
	if l == nil {
		return nil
	}
	return json.Unmarshal(l.raw, v)
}

// rawJSON is the value's JSON, nil for none.
func (l *Lazy[T]) rawJSON() json.RawMessage {
	if l == nil {
		return nil
	}
	return l.raw
}

func (l *Lazy[T]) MarshalJSON() ([]byte, error) {
	if l == nil || l.raw == nil {
		return []byte("null"), nil
	}
	return l.raw, nil
}

func (l *Lazy[T]) UnmarshalJSON(data []byte) error {
	if l == nil {
		return errors.New("state: UnmarshalJSON on nil Lazy")
	}
	l.raw = append(json.RawMessage(nil), data...)
	return nil
}
