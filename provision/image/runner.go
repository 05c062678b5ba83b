package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Command is one external program run by a build.
type Command struct {
	Name  string
	Args  []string
	Stdin string
	Env   []string // added to the environment
}

func (c Command) String() string {
	return strings.Join(append([]string{c.Name}, c.Args...), " ")
}

// Runner runs commands, writing their output to out.
type Runner interface {
	Run(ctx context.Context, c Command, out io.Writer) error
}

// ExecRunner runs commands for real.
type ExecRunner struct{}

// Run runs c and returns an error naming the command on failure.
func (ExecRunner) Run(ctx context.Context, c Command, out io.Writer) error {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Stdout, cmd.Stderr = out, out
	if c.Stdin != "" {
		cmd.Stdin = bytes.NewBufferString(c.Stdin)
	}
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	return nil
}
