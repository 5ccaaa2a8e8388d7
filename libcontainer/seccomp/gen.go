package seccomp

//go:generate go run ./gen
