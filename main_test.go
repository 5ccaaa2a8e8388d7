package main

import (
	"slices"
	"testing"
)

func TestCommandName(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "c1"}, "run"},
		{[]string{"--root", "run", "state", "c1"}, "state"},
		{[]string{"--debug", "--log-format", "json", "rm", "c1"}, "rm"},
		{[]string{"--help", "run"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"help", "run"}, "help"},
		{nil, ""},
	} {
		if got := commandName(c.args); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// TestCommandNames: the table commands are found by names each command
// by its own name and aliases, and an unknown name builds them all.
func TestCommandNames(t *testing.T) {
	for _, c := range commands {
		cmd := c.build()
		if want := append([]string{cmd.Name}, cmd.Aliases...); !slices.Equal(c.names, want) {
			t.Errorf("commands table: %q, the command: %q", c.names, want)
		}
		for _, name := range c.names {
			if got := buildCommands(name); len(got) != 1 || got[0].Name != cmd.Name {
				t.Errorf("buildCommands(%q) built %d commands", name, len(got))
			}
		}
	}
	if got := buildCommands("help"); len(got) != len(commands) {
		t.Errorf("buildCommands(help) built %d commands, want all %d", len(got), len(commands))
	}
}
