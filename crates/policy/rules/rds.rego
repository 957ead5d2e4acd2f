# RDS database instances: encryption at rest and public reachability.
package terrane.scan.rds

import rego.v1

import data.terrane.scan.lib

findings contains f if {
	some rc in lib.resources("aws_db_instance")
	v := lib.get(rc.change.after, "storage_encrypted", null)
	v != true
	not lib.pending(rc, "storage_encrypted")
	f := {
		"rule": "TRN-RDS-001",
		"address": rc.address,
		"message": sprintf("database %s stores its data unencrypted: %s", [lib.label(rc, "identifier"), lib.false_text(rc, "storage_encrypted")]),
	}
}

findings contains f if {
	some rc in lib.resources("aws_db_instance")
	rc.change.after.publicly_accessible == true
	f := {
		"rule": "TRN-RDS-002",
		"address": rc.address,
		"message": sprintf("database %s has publicly_accessible = true: it gets a public IP address and DNS name reachable from the internet", [lib.label(rc, "identifier")]),
	}
}
