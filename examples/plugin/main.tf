# A provider plugin, the program Terraform itself runs: pyvider, a provider written in
# Python, installed by `terrane init` from a filesystem mirror (see the README).

terraform {
  required_providers {
    pyvider = {
      source  = "local/pyvider"
      version = "~> 0.8"
    }
  }
}

variable "greeting" {
  default = "hello from a plugin"
}

# A resource the plugin manages: a file with this content.
resource "pyvider_file_content" "note" {
  filename = "${path.module}/out/note.txt"
  content  = var.greeting
}

# A data source the plugin reads.
data "pyvider_file_info" "note" {
  path = pyvider_file_content.note.filename
}

output "content_hash" {
  value = pyvider_file_content.note.content_hash
}

output "size" {
  value = data.pyvider_file_info.note.size
}

# A function the plugin defines.
output "shout" {
  value = provider::pyvider::upper(var.greeting)
}
