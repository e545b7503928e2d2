# The pksplay lab: two PKS hosts (pks1, pks2) in network namespaces on this machine, as root.
# Included from the top-level Makefile (include lab/lab.mk); paths are relative to the repository
# root. See lab/README.md.
LAB_SCRIPTS := $(dir $(lastword $(MAKEFILE_LIST)))

.PHONY: lab-up lab-down lab-status lab-reset lab-image

lab-up: ## Start the lab (builds the postgres image the first time)
	@$(LAB_SCRIPTS)up.sh

lab-down: ## Stop the lab and remove everything it put on the machine
	@$(LAB_SCRIPTS)down.sh

lab-status: ## Per host: sshd, containers, whether pks-db answers
	@$(LAB_SCRIPTS)status.sh

lab-reset: ## lab-down, wipe each host's /srv, /root, database and containers, lab-up
	@$(LAB_SCRIPTS)reset.sh

lab-image: ## Build and cache the postgres image only
	@$(LAB_SCRIPTS)image.sh
