select image_name, epsg, gsd_m, width_px, height_px from stg_naip__images where geom is null or ST_IsEmpty(geom) or epsg is null or gsd_m is null or gsd_m <= 0 or width_px <= 0 or height_px <= 0
