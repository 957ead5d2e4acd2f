# terraform_remote_state reads another state's outputs: every type, big numbers exact, sensitive ones stay sensitive, defaults fill in, another workspace's file.
data "terraform_remote_state" "o" {
  backend = "local"
  config = {
    path = "other/terraform.tfstate"
  }
  defaults = {
    missing = "default"
    s       = "not used"
  }
}
data "terraform_remote_state" "staging" {
  backend   = "local"
  workspace = "staging"
}
output "s" { value = data.terraform_remote_state.o.outputs.s }
output "big" { value = data.terraform_remote_state.o.outputs.big }
output "l" { value = data.terraform_remote_state.o.outputs.l }
output "m" { value = data.terraform_remote_state.o.outputs.m }
output "missing" { value = data.terraform_remote_state.o.outputs.missing }
output "pw" {
  value     = data.terraform_remote_state.o.outputs.pw
  sensitive = true
}
output "staging" { value = data.terraform_remote_state.staging.outputs.s }
resource "terraform_data" "t" {
  input = data.terraform_remote_state.o.outputs.m
}
