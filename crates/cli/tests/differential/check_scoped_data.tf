# A check block's own data source: read on every plan, referred to only inside the check; a failed read or assertion is a warning.
check "remote" {
  data "terraform_remote_state" "o" {
    backend = "local"
    config = {
      path = "other/terraform.tfstate"
    }
  }
  assert {
    condition     = data.terraform_remote_state.o.outputs.s == "bye"
    error_message = "s is ${data.terraform_remote_state.o.outputs.s}"
  }
}
check "missing" {
  data "terraform_remote_state" "m" {
    backend = "local"
    config = {
      path = "nope/terraform.tfstate"
    }
  }
  assert {
    condition     = data.terraform_remote_state.m.outputs.s == "x"
    error_message = "unreachable"
  }
}
resource "terraform_data" "after" {
  input = "applied despite the warnings"
}
output "done" { value = terraform_data.after.output }
