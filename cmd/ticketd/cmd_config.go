package main

// The configuration's commands: check-config, config example.

import "fmt"

// configCommands check and explain the configuration.
func configCommands() []command {
	return []command{
		{name: "check-config", help: "check the configuration; print every problem and exit 2 if any", run: cmdCheckConfig},
		{name: "config example", help: "print the example configuration with every key, its default and what it does", run: cmdConfigExample},
	}
}

func cmdCheckConfig(c *cli) int {
	path := findConfig(c.config)
	s, errs := loadConfig(path)
	for _, err := range errs {
		fmt.Fprintf(c.stderr, "%s: %v\n", path, err)
	}
	if s != nil {
		for _, w := range s.Warnings {
			fmt.Fprintf(c.stderr, "%s: warning: %s\n", path, w)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(c.stderr, "%d problem(s) found\n", len(errs))
		return exitConfig
	}
	fmt.Fprintf(c.stdout, "%s: ok (%d mailbox(es), data in %s, SMTP %s:%d %s)\n",
		path, len(s.IMAP), s.DataDir, s.SMTP.Host, s.SMTP.Port, s.SMTP.Security)
	return exitOK
}

func cmdConfigExample(c *cli) int {
	if len(c.args) != 0 {
		return c.fail("usage: ticketd config example")
	}
	if err := writeExampleConfig(c.stdout); err != nil {
		return c.fail("config example: %v", err)
	}
	return exitOK
}
