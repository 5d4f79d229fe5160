/* differnetfilter: checks of the settings that name a region or a tiling against the frames (the
 * roi, tiles and tile-overlap properties), shared by set_property and the caps handler. */
#include "gstdiffernetfilter_private.h"

#include <algorithm>

#include "error.h"

gboolean
differnet_filter_parse_region (GstDifferNetFilter * self, const char *name, const char *text,
    differnet::Region & region, std::string & rejected)
{
  Settings & s = *self->settings;
  try {
    const differnet::Region r = differnet::Region::parse (text ? text : "");
    if (self->state && self->state->width > 0 && !r.fits (self->state->width, self->state->height)) {
      rejected = std::string (name) + " '" + text + "' does not lie inside the " + std::to_string (self->state->width) +
          "x" + std::to_string (self->state->height) + " frame";
    } else {
      region = r;
      s.invalid.erase (name);
      return TRUE;
    }
  } catch (const differnet::Error & e) {
    rejected = e.what ();
  }
  s.invalid[name] = rejected;
  return FALSE;
}

std::string
differnet_filter_tiling_misfit (const std::string & tiles, double overlap, const differnet::Region & roi, int width,
    int height)
{
  if (tiles.empty () || tiles == "auto" || width <= 0 || height <= 0)
    return "";
  const differnet::Region area = roi.whole_frame () ? differnet::Region {0, 0, width, height} : roi;
  try {
    differnet::tile_regions (area, differnet::TileGrid::parse (tiles, std::max (0.0, overlap)));
  } catch (const differnet::Error & e) {
    return std::string (e.what ()) + " (the frames are " + std::to_string (width) + "x" + std::to_string (height) + ")";
  }
  return "";
}

